/** `::ffff:127.0.0.1` → `127.0.0.1`, so addresses compare and print the same way everywhere. */
export function normalizeAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
