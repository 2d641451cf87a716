// The `siar` executable as the tests run it: the TypeScript sources through tsx by default, so a test
// always runs the code in the tree (no stale build); with SIAR_CLI=dist, the shipped bin/siar.js and
// its compiled dist/ (CI runs the end-to-end files that way too).
if (process.env.SIAR_CLI === 'dist') {
  await import('../../bin/siar.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../../src/client/cli/main.ts');
}
