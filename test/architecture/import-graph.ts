/**
 * The import graph of src/: every module's imports (static, `export … from`, dynamic `import()`),
 * relative ones resolved to files under src/, others kept as package names. Read as text with a
 * regular expression: siar's sources write imports one way (ES modules, `.js` suffixes).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface Edge {
  /** Importing module, relative to the repository root (src/…/x.ts). */
  from: string;
  /** Imported module (src/…/y.ts) or package name (pg, node:fs). */
  to: string;
  /** `import type` / `export type`: gone at run time, still a dependency of the design. */
  typeOnly: boolean;
}

const IMPORT = /(?:^|[;\s])(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** The package a bare specifier names: `pg`, `@scope/name`, `node:fs`. */
function packageOf(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

export function importGraph(root: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of walk(path.join(root, 'src'))) {
    const from = path.relative(root, file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[2] ?? m[3]!;
      const typeOnly = m[1] !== undefined;
      const to = spec.startsWith('.')
        ? path.relative(root, path.resolve(path.dirname(file), spec)).replace(/\.js$/, '.ts')
        : packageOf(spec);
      edges.push({ from, to, typeOnly });
    }
  }
  return edges;
}

/** The top folder of src/ a module is in: 'server', 'core', 'adapters'… (null for a package). */
export function layerOf(module: string): string | null {
  const m = /^src\/([^/]+)\//.exec(module);
  return m ? m[1]! : null;
}

/** Cycles among the modules (strongly connected components of more than one module), run-time imports only. */
export function cycles(edges: readonly Edge[], within: (module: string) => boolean): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    if (e.typeOnly || !within(e.from) || !within(e.to)) continue;
    (next.get(e.from) ?? next.set(e.from, []).get(e.from)!).push(e.to);
  }
  // Tarjan's algorithm.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of next.keys()) if (!idx.has(v)) visit(v);
  return found.sort((a, b) => a[0]!.localeCompare(b[0]!));
}
