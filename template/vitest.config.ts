import { defineConfig } from 'vitest/config';

// The local cloud starts DynamoDB Local (a JVM) and synthesizes the app: generous ceilings against hangs.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 180_000 } });
