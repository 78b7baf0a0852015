import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One CloudFormation resource as cdk synth wrote it. */
export interface TemplateResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
}

/** A synthesized stack: its template and where its assets are. */
export interface SynthesizedStack {
  readonly name: string;
  readonly resources: Record<string, TemplateResource>;
  readonly outputs: Record<string, { Value: unknown }>;
  readonly assemblyDir: string;
}

interface Manifest {
  artifacts?: Record<string, { type: string; properties?: { templateFile?: string }; displayName?: string }>;
}

/** Reads every stack of a cloud assembly (the cdk.out folder). */
export function readCloudAssembly(assemblyDir: string): SynthesizedStack[] {
  const manifest = JSON.parse(readFileSync(join(assemblyDir, 'manifest.json'), 'utf8')) as Manifest;
  return Object.entries(manifest.artifacts ?? {})
    .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack' && artifact.properties?.templateFile)
    .map(([name, artifact]) => {
      const template = JSON.parse(readFileSync(join(assemblyDir, artifact.properties!.templateFile!), 'utf8')) as {
        Resources?: Record<string, TemplateResource>;
        Outputs?: Record<string, { Value: unknown }>;
      };
      return { name, resources: template.Resources ?? {}, outputs: template.Outputs ?? {}, assemblyDir };
    });
}
