import { LOCAL_REGION } from './emulators.ts';

export const LOCAL_ACCOUNT = '000000000000';

/** A local function's ARN, the one every part of the local cloud reports. */
export function functionArn(name: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}`;
}

/** A local queue's ARN, from its name or its URL (whose last segment is the name). */
export function queueArn(nameOrUrl: string): string {
  return `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${nameOrUrl.split('/').filter(Boolean).pop() ?? ''}`;
}

/** A local table's ARN, from its name (or its ARN, which DynamoDB accepts wherever a table name goes). */
export function tableArn(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? nameOrArn : `arn:aws:dynamodb:${LOCAL_REGION}:${LOCAL_ACCOUNT}:table/${nameOrArn}`;
}

/** What a provisioned resource answers to Ref and Fn::GetAtt. */
export interface ResourceAttributes {
  readonly ref: string;
  readonly attributes: Record<string, string>;
}

/** A template value the local cloud cannot turn into a string: names the stack, the resource and the expression. */
export class UnresolvableError extends Error {
  public readonly code = 'UNRESOLVABLE';
  public constructor(message: string) {
    super(message);
    this.name = 'UnresolvableError';
  }
}

/**
 * Resolves CloudFormation intrinsics over the resources the local cloud built: Ref, Fn::GetAtt, Fn::Join,
 * Fn::Sub, Fn::Select, Fn::Split and the pseudo parameters. Anything else fails loudly rather than guessing.
 */
export class IntrinsicResolver {
  readonly #stackName: string;
  readonly #resources: ReadonlyMap<string, ResourceAttributes>;

  public constructor(stackName: string, resources: ReadonlyMap<string, ResourceAttributes>) {
    this.#stackName = stackName;
    this.#resources = resources;
  }

  public resolve(value: unknown, where: string): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((item) => this.resolve(item, where));
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [[key, argument]] = entries as [[string, unknown]];
      switch (key) {
        case 'Ref':
          return this.#ref(String(argument), where);
        case 'Fn::GetAtt':
          return this.#getAtt(argument, where);
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown[]];
          return (this.resolve(parts, where) as unknown[]).map(String).join(separator);
        }
        case 'Fn::Sub':
          return this.#sub(argument, where);
        case 'Fn::Select': {
          const [index, list] = argument as [unknown, unknown];
          return (this.resolve(list, where) as unknown[])[Number(this.resolve(index, where))];
        }
        case 'Fn::Split': {
          const [separator, text] = argument as [string, unknown];
          return String(this.resolve(text, where)).split(separator);
        }
        default:
          if (key.startsWith('Fn::') || key === 'Condition') {
            throw new UnresolvableError(`${this.#stackName}: ${where} uses ${key}, which the local cloud does not evaluate`);
          }
      }
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item, where)]));
  }

  public resolveString(value: unknown, where: string): string {
    return String(this.resolve(value, where));
  }

  #ref(name: string, where: string): string {
    const pseudo: Record<string, string> = {
      'AWS::Region': LOCAL_REGION,
      'AWS::AccountId': LOCAL_ACCOUNT,
      'AWS::Partition': 'aws',
      'AWS::StackName': this.#stackName,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::NoValue': '',
    };
    if (name in pseudo) return pseudo[name]!;
    const resource = this.#resources.get(name);
    if (!resource) throw new UnresolvableError(`${this.#stackName}: ${where} refers to ${name}, a resource the local cloud did not build`);
    return resource.ref;
  }

  #getAtt(argument: unknown, where: string): string {
    const [logicalId, attribute] = typeof argument === 'string' ? (argument.split('.') as [string, string]) : (argument as [string, string]);
    const resource = this.#resources.get(logicalId);
    const value = resource?.attributes[attribute];
    if (value === undefined) {
      throw new UnresolvableError(`${this.#stackName}: ${where} needs ${logicalId}.${attribute}, which the local cloud does not provide`);
    }
    return value;
  }

  #sub(argument: unknown, where: string): string {
    const [text, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
    return text.replace(/\$\{([^}!][^}]*)\}/g, (_match, name: string) => {
      if (name in variables) return String(this.resolve(variables[name], where));
      return name.includes('.') ? this.#getAtt(name, where) : this.#ref(name, where);
    });
  }
}
