import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Credentials } from './iam/signatures.ts';

/**
 * The developer's credentials for this local cloud: the key everything outside its functions signs with (the SDK, msg,
 * the AWS CLI), whose calls IAM does not check, as an administrator's would pass. Its secret is random, made once per
 * state folder and kept there (readable by its owner alone), so that exported variables stay valid across restarts
 * and no other program on the machine, and no function, can sign as the developer without reading it.
 */
export function developerCredentials(stateDir: string): Credentials {
  const file = join(stateDir, 'credentials.json');
  if (existsSync(file)) {
    const kept = JSON.parse(readFileSync(file, 'utf8')) as Partial<Credentials>;
    if (typeof kept.accessKeyId === 'string' && typeof kept.secretAccessKey === 'string') return { accessKeyId: kept.accessKeyId, secretAccessKey: kept.secretAccessKey };
  }
  const made = { accessKeyId: 'local', secretAccessKey: randomBytes(24).toString('base64url') };
  writeFileSync(file, `${JSON.stringify(made, null, 2)}\n`, { mode: 0o600 });
  return made;
}

/** A function's credentials for this start: its access key names it to the authorizer, its secret is new each start. */
export function functionCredentials(accessKeyId: string): Credentials {
  return { accessKeyId, secretAccessKey: randomBytes(24).toString('base64url') };
}
