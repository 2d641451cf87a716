#!/usr/bin/env node
// The one siar executable. Sources are TypeScript, loaded through tsx so there is no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/client/cli/main.ts');
