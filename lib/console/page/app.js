// The local console's page. Plain JavaScript, loaded by the browser as it is: Preact through htm's tagged templates,
// so that no build step stands between a change here and the page (see lib/console/server.ts).
import { html, render, useCallback, useEffect, useRef, useState } from 'htm/preact/standalone';
import { Validator } from '@cfworker/json-schema';

const token = document.querySelector('meta[name="console-token"]').content;
/** How often the channels' counts are read again while the page is in view. */
const OVERVIEW_EVERY_MS = 1000;

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { 'x-console-token': token, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json();
  if (!response.ok) throw new Error(data.error?.message ?? `${response.status} ${response.statusText}`);
  return data;
}

/** A payload's text checked as the server will: JSON first, then the channel's schema (when JSON Schema can say it). */
function checkPayload(schema, text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { valid: false, problems: [`not JSON: ${error.message}`] };
  }
  if (!schema) return { valid: true, value, problems: [] };
  const { valid, errors } = new Validator(schema, '2020-12', false).validate(value);
  // The validator reports each failing keyword up the tree; the deepest ones say what to change.
  const leaves = errors.filter((error) => !errors.some((other) => other !== error && other.instanceLocation.startsWith(`${error.instanceLocation}/`)));
  const problems = [...new Set(leaves.map((error) => `${error.instanceLocation.replace(/^#\/?/, '') || '(root)'}: ${error.error}`))];
  return { valid, value, problems: problems.slice(0, 6) };
}

const time = (epochMs) => new Date(epochMs).toISOString().slice(11, 23);

function Status({ status }) {
  return html`<p class=${`status ${status?.error ? 'error' : ''}`} role="status" aria-live="polite">${status?.text ?? ''}</p>`;
}

function Overview({ overview, onDeadLetters }) {
  if (!overview) return html`<p class="muted">Reading the queues…</p>`;
  return html`
    <table aria-label="Channels">
      <thead><tr><th scope="col">Channel</th><th scope="col">Policy</th><th scope="col" class="number">Waiting</th><th scope="col" class="number">In flight</th>
        <th scope="col" class="number">Delayed</th><th scope="col" class="number">Dead letters</th><th scope="col" class="number">Handled / s</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
      <tbody>
        ${overview.channels.map((channel) => html`
          <tr data-channel=${channel.channel}>
            <th scope="row">${channel.channel}</th><td>${channel.policy}</td>
            <td class="number">${channel.waiting}</td><td class="number">${channel.inFlight}</td><td class="number">${channel.delayed}</td>
            <td class="number" data-dead-letters=${channel.deadLetters ?? ''}>${channel.deadLetters ?? '–'}</td>
            <td class="number">${channel.handledPerSecond.toFixed(1)}</td>
            <td>${channel.deadLetters !== undefined && html`<button class="secondary" onClick=${() => onDeadLetters(channel.channel)}>Dead letters of ${channel.channel}</button>`}</td>
          </tr>`)}
      </tbody>
    </table>
    ${overview.topics.length > 0 && html`
      <h3>Topics</h3>
      <table aria-label="Topics">
        <thead><tr><th scope="col">Topic</th><th scope="col">Subscribers</th><th scope="col" class="number">Undelivered</th></tr></thead>
        <tbody>${overview.topics.map((topic) => html`<tr><th scope="row">${topic.topic}</th><td>${topic.subscribers.join(', ')}</td><td class="number">${topic.undelivered}</td></tr>`)}</tbody>
      </table>`}
    <p class="muted">Updated ${time(overview.at)} (UTC), every second.</p>`;
}

/** A payload's text area, with what its channel's schema says of it as it is typed. */
function PayloadEditor({ id, label, schema, text, setText }) {
  const checked = checkPayload(schema, text);
  return html`
    <label for=${id}>${label}</label>
    <textarea id=${id} value=${text} onInput=${(event) => setText(event.currentTarget.value)} aria-describedby=${`${id}-check`} aria-invalid=${!checked.valid}></textarea>
    <div id=${`${id}-check`} aria-live="polite">
      ${checked.valid ? html`<p class="valid">Valid for its schema.</p>` : html`<ul class="problems">${checked.problems.map((problem) => html`<li>${problem}</li>`)}</ul>`}
    </div>`;
}

function SendForm({ catalog, onSent }) {
  const targets = [...catalog.channels.map((channel) => ({ ...channel, kind: 'channel' })), ...catalog.topics.map((topic) => ({ ...topic, kind: 'topic', policy: 'topic' }))];
  const [target, setTarget] = useState(targets[0]?.name ?? '');
  const [text, setText] = useState('{\n}');
  const [status, setStatus] = useState();
  const chosen = targets.find((candidate) => candidate.name === target);
  const checked = checkPayload(chosen?.schema, text);
  const submit = async (event) => {
    event.preventDefault();
    if (!checked.valid) return;
    setStatus({ text: 'Sending…' });
    try {
      const result = chosen.kind === 'topic' ? await api('POST', `/api/publish/${encodeURIComponent(target)}`, { event: checked.value }) : await api('POST', `/api/send/${encodeURIComponent(target)}`, { payload: checked.value });
      setStatus({ text: result.answer !== undefined ? `Answered: ${JSON.stringify(result.answer)}` : `Accepted: correlation id ${result.correlationId}` });
      if (result.correlationId) onSent(result.correlationId);
    } catch (error) {
      setStatus({ error: true, text: `Not sent: ${error.message}` });
    }
  };
  return html`
    <form onSubmit=${submit} aria-label="Send a message">
      <label for="send-target">Channel or topic</label>
      <select id="send-target" value=${target} onChange=${(event) => setTarget(event.currentTarget.value)}>
        ${targets.map((candidate) => html`<option value=${candidate.name}>${candidate.name} (${candidate.policy})</option>`)}
      </select>
      <${PayloadEditor} id="send-payload" label="Payload (JSON)" schema=${chosen?.schema} text=${text} setText=${setText} />
      <button type="submit" disabled=${!checked.valid}>Send</button>
      <${Status} status=${status} />
    </form>`;
}

function Spans({ spans }) {
  if (spans.length === 0) return null;
  return html`
    <table aria-label="Spans" class="spans">
      <thead><tr><th scope="col">Span (OpenTelemetry)</th><th scope="col">Trace</th><th scope="col">Function</th><th scope="col">At (UTC)</th><th scope="col" class="number">Duration</th><th scope="col">Status</th></tr></thead>
      <tbody>${spans.map((span) => html`
        <tr data-span-status=${span.status}><td>${span.name}</td><td class="id">${span.traceId}</td><td>${span.functionName}</td><td>${time(span.startMs)}</td>
          <td class="number">${span.durationMs.toFixed(1)} ms</td><td>${span.status}${span.statusMessage ? `: ${span.statusMessage}` : ''}</td></tr>`)}
      </tbody>
    </table>`;
}

function TraceNode({ node, spans }) {
  const own = spans.filter((span) => span.attributes['messaging.message.conversation_id'] === node.correlationId && span.attributes['messaging.destination.name'] === node.channel);
  return html`
    <div class="node" data-trace-channel=${node.channel} data-trace-status=${node.status}>
      <h3>${node.channel} <span class="id">${node.correlationId}</span>: ${node.status}${node.topic ? ` (from topic ${node.topic})` : ''}</h3>
      <table aria-label=${`Timeline of ${node.correlationId} on ${node.channel}`}>
        <thead><tr><th scope="col">At (UTC)</th><th scope="col">What</th><th scope="col" class="number">Receive</th><th scope="col">Detail</th></tr></thead>
        <tbody>
          ${node.events.map((event) => html`
            <tr><td>${time(event.at)}</td><td>${event.what}</td><td class="number">${event.attempt ?? ''}</td>
              <td>${[event.reason, event.nextReceiveAfterMs !== undefined ? `next receive after ${event.nextReceiveAfterMs} ms` : undefined, ...(event.onward ?? [])].filter(Boolean).join('; ')}</td></tr>`)}
        </tbody>
      </table>
      ${node.reply !== undefined && html`<p>Reply: <code>${JSON.stringify(node.reply)}</code></p>`}
      <${Spans} spans=${own} />
      ${node.onward.map((child) => html`<${TraceNode} node=${child} spans=${spans} />`)}
    </div>`;
}

/** A message's timeline; `wanted` is a lookup ({ id }): each new one, from this form or elsewhere, replaces the last. */
function Trace({ wanted, onTrace }) {
  const [id, setId] = useState(wanted?.id ?? '');
  const [found, setFound] = useState();
  const [status, setStatus] = useState();
  const current = useRef(wanted);
  current.current = wanted;
  /** Reads a message's story; answers whether it is settled (every record applied or dead-lettered, with its onward ones). */
  const look = useCallback(async (correlationId) => {
    try {
      const trace = await api('GET', `/api/trace/${encodeURIComponent(correlationId)}`);
      // An answer for a lookup since replaced is dropped: it would show one message under another's id.
      if (current.current?.id !== correlationId) return true;
      setFound(trace);
      setStatus({ text: `Read at ${time(Date.now())} (UTC)` });
      const settled = (node) => ['succeeded', 'dead-lettered', 'not-tracked'].includes(node.status) && node.onward.every(settled);
      return trace.nodes.length > 0 && trace.nodes.every(settled);
    } catch (error) {
      setStatus({ error: true, text: error.message });
      return true;
    }
  }, []);
  useEffect(() => {
    if (!wanted) return undefined;
    setId(wanted.id);
    // A message being handled: its story is read again each second until it is settled, or another is looked up.
    let timer;
    let stopped = false;
    const follow = async () => {
      const settled = await look(wanted.id);
      if (!settled && !stopped) timer = setTimeout(follow, 1000);
    };
    void follow();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [wanted, look]);
  return html`
    <form class="row" onSubmit=${(event) => { event.preventDefault(); if (id.trim()) onTrace(id.trim()); }} aria-label="Find a message">
      <div><label for="trace-id">Message or correlation id</label><input id="trace-id" type="text" size="40" value=${id} onInput=${(event) => setId(event.currentTarget.value)} /></div>
      <button type="submit">Show timeline</button>
    </form>
    <${Status} status=${status} />
    <div id="timeline">${found?.nodes.length === 0 ? html`<p>No channel has a record of it.</p>` : found?.nodes.map((node) => html`<${TraceNode} node=${node} spans=${found.spans} />`)}</div>`;
}

function DeadLetters({ catalog, channel, setChannel, onTrace }) {
  const guaranteed = catalog.channels.filter((candidate) => candidate.policy === 'guaranteed');
  const schema = catalog.channels.find((candidate) => candidate.name === channel)?.schema;
  const [letters, setLetters] = useState();
  const [preview, setPreview] = useState();
  const [editing, setEditing] = useState();
  const [confirm, setConfirm] = useState();
  const [status, setStatus] = useState();
  const shown = useRef(channel);
  shown.current = channel;
  const load = useCallback(async () => {
    if (!channel) return;
    try {
      const found = await api('GET', `/api/dead-letters/${encodeURIComponent(channel)}`);
      // Another channel chosen meanwhile: these are not its letters.
      if (shown.current === channel) setLetters(found);
    } catch (error) {
      setStatus({ error: true, text: error.message });
    }
  }, [channel]);
  useEffect(() => {
    setLetters(undefined);
    setPreview(undefined);
    setEditing(undefined);
    setConfirm(undefined);
    void load();
  }, [load]);
  const act = async (what, call) => {
    setStatus({ text: `${what}…` });
    try {
      const result = await call();
      setStatus({ text: `${what}: ${JSON.stringify(result)}` });
      setPreview(undefined);
      setEditing(undefined);
      await load();
    } catch (error) {
      setStatus({ error: true, text: `${what} failed: ${error.message}` });
    }
  };
  const redrive = (body) => act('Redrive', () => api('POST', `/api/redrive/${encodeURIComponent(channel)}`, body));
  const showPreview = async () => {
    try {
      setPreview(await api('POST', `/api/redrive/${encodeURIComponent(channel)}/preview`, {}));
    } catch (error) {
      setStatus({ error: true, text: error.message });
    }
  };
  const editedCheck = editing && checkPayload(schema, editing.text);
  return html`
    <div class="row">
      <div><label for="dlq-channel">Channel</label>
        <select id="dlq-channel" value=${channel ?? ''} onChange=${(event) => setChannel(event.currentTarget.value)}>
          <option value="">Choose a guaranteed channel</option>
          ${guaranteed.map((candidate) => html`<option value=${candidate.name}>${candidate.name}</option>`)}
        </select></div>
      <button class="secondary" onClick=${() => void load()} disabled=${!channel}>Refresh</button>
      <button class="secondary" onClick=${() => void showPreview()} disabled=${!letters?.length}>Preview redrive</button>
      <button onClick=${() => redrive({})} disabled=${!letters?.length}>Redrive all</button>
      <button class="secondary" onClick=${() => redrive({ skipApplied: true })} disabled=${!letters?.length}>Redrive all, skipping applied</button>
      <button class="danger" onClick=${() => setConfirm('')} disabled=${!letters?.length}>Purge…</button>
    </div>
    ${confirm !== undefined && html`
      <form class="row" aria-label="Confirm the purge" onSubmit=${(event) => { event.preventDefault(); void act('Purge', () => api('POST', `/api/purge/${encodeURIComponent(channel)}`, { confirm })); setConfirm(undefined); }}>
        <div><label for="purge-confirm">Purging deletes every dead letter of ${channel} for good. Type ${channel} to confirm</label>
          <input id="purge-confirm" type="text" value=${confirm} onInput=${(event) => setConfirm(event.currentTarget.value)} /></div>
        <button type="submit" class="danger" disabled=${confirm !== channel}>Delete every dead letter</button>
        <button type="button" class="secondary" onClick=${() => setConfirm(undefined)}>Cancel</button>
      </form>`}
    <${Status} status=${status} />
    ${preview && html`
      <div id="redrive-preview" aria-label="Redrive preview">
        <h3>A redrive would</h3>
        <p>retry ${preview.counts.retried}, skip ${preview.counts.duplicate} already applied, finish the outbox of ${preview.counts['finishes-outbox']}, and dead-letter ${preview.counts['fails-schema']} again at once${preview.notRead > 0 ? ` (${preview.notRead} more not read)` : ''}.</p>
        <table><thead><tr><th scope="col">Message</th><th scope="col">Verdict</th><th scope="col">Why</th></tr></thead>
          <tbody>${preview.letters.map((letter) => html`<tr data-verdict=${letter.verdict}><td class="id">${letter.correlationId ?? letter.messageId}</td><td class=${`verdict-${letter.verdict}`}>${letter.verdict}</td><td>${letter.why}</td></tr>`)}</tbody>
        </table>
      </div>`}
    ${editing && html`
      <form aria-label="Edit and redrive" onSubmit=${(event) => { event.preventDefault(); if (editedCheck.valid) void redrive({ only: [editing.messageId], body: editing.text }); }}>
        <${PayloadEditor} id="edit-payload" label=${`Body of ${editing.messageId}, as it goes back`} schema=${schema} text=${editing.text} setText=${(text) => setEditing({ ...editing, text })} />
        <button type="submit" disabled=${!editedCheck.valid}>Redrive edited</button>
        <button type="button" class="secondary" onClick=${() => setEditing(undefined)}>Cancel</button>
      </form>`}
    ${letters && (letters.length === 0 ? html`<p>No dead letters on ${channel}.</p>` : html`
      <h3>Dead letters of ${channel}</h3>
      <table aria-label=${`Dead letters of ${channel}`}>
        <thead><tr><th scope="col">Message</th><th scope="col">Reason</th><th scope="col" class="number">Attempts</th><th scope="col">Payload</th><th scope="col"><span class="muted">Actions</span></th></tr></thead>
        <tbody>
          ${letters.map((letter) => html`
            <tr data-message-id=${letter.messageId}>
              <td class="id">${letter.correlationId ?? letter.messageId}</td>
              <td class="reason">${letter.reason}</td>
              <td class="number">${letter.attempts ?? ''}</td>
              <td><pre>${letter.body}</pre></td>
              <td>
                <button class="secondary" onClick=${() => onTrace(letter.correlationId ?? letter.messageId)}>Timeline</button>
                <button class="secondary" onClick=${() => redrive({ only: [letter.messageId] })}>Redrive</button>
                <button class="secondary" onClick=${() => setEditing({ messageId: letter.messageId, text: letter.body })}>Edit and redrive</button>
              </td>
            </tr>`)}
        </tbody>
      </table>`)}`;
}

function Denials({ denials }) {
  if (!denials?.length) return html`<p class="muted">No call refused.</p>`;
  return html`<ul>${denials.map((denial) => html`
    <li><strong>${denial.functionName}</strong> was refused <code>${denial.action}</code> on <code>${denial.resource}</code> at ${time(denial.at)}:
      ${denial.why}. To allow it: <code>${denial.grant}</code></li>`)}</ul>`;
}

function App() {
  const [catalog, setCatalog] = useState();
  const [overview, setOverview] = useState();
  const [status, setStatus] = useState();
  const [traced, setTraced] = useState();
  const [deadLetterChannel, setDeadLetterChannel] = useState('');
  useEffect(() => {
    api('GET', '/api/catalog').then(setCatalog, (error) => setStatus({ error: true, text: error.message }));
    let stopped = false;
    const read = async () => {
      if (document.visibilityState === 'visible') {
        try {
          setOverview(await api('GET', '/api/overview'));
          setStatus(undefined);
        } catch (error) {
          setStatus({ error: true, text: `The local cloud did not answer: ${error.message}` });
        }
      }
      if (!stopped) setTimeout(read, OVERVIEW_EVERY_MS);
    };
    void read();
    return () => (stopped = true);
  }, []);
  const showTrace = (id) => {
    // A new object each time: looking the same id up again reads it again.
    setTraced({ id });
    document.getElementById('trace')?.scrollIntoView();
  };
  const showDeadLetters = (channel) => {
    setDeadLetterChannel(channel);
    document.getElementById('dead-letters')?.scrollIntoView();
  };
  return html`
    <header>
      <h1>Local console</h1>
      <nav aria-label="Sections"><a href="#channels">Channels</a><a href="#send">Send</a><a href="#trace">Timeline</a><a href="#dead-letters">Dead letters</a><a href="#denials">Refused calls</a></nav>
    </header>
    <main>
      <${Status} status=${status} />
      <section id="channels" aria-labelledby="channels-title"><h2 id="channels-title">Channels</h2><${Overview} overview=${overview} onDeadLetters=${showDeadLetters} /></section>
      ${catalog && html`
        <section id="send" aria-labelledby="send-title"><h2 id="send-title">Send a message</h2><${SendForm} catalog=${catalog} onSent=${showTrace} /></section>
        <section id="trace" aria-labelledby="trace-title"><h2 id="trace-title">Message timeline</h2><${Trace} wanted=${traced} onTrace=${showTrace} /></section>
        <section id="dead-letters" aria-labelledby="dead-letters-title"><h2 id="dead-letters-title">Dead letters</h2>
          <${DeadLetters} catalog=${catalog} channel=${deadLetterChannel} setChannel=${setDeadLetterChannel} onTrace=${showTrace} /></section>`}
      <section id="denials" aria-labelledby="denials-title"><h2 id="denials-title">Refused calls (local IAM)</h2><${Denials} denials=${overview?.denials} /></section>
    </main>`;
}

const root = document.getElementById('app');
root.replaceChildren();
render(html`<${App} />`, root);
