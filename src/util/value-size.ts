/**
 * Approximate size of a value as JSON text, counting no further than `limit`: cheap even on a
 * value whose shared parts would expand to gigabytes, so size checks cannot themselves hang.
 * Returns a number above `limit` as soon as it is known to be too large.
 */
export function boundedJsonSize(value: unknown, limit: number): number {
  let size = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current === 'string') size += current.length + 2;
    else if (Array.isArray(current)) {
      size += 2 + current.length;
      for (let i = current.length - 1; i >= 0; i--) stack.push(current[i]);
    } else if (typeof current === 'object' && current !== null) {
      const entries = Object.entries(current);
      size += 2 + entries.length;
      for (const [key, child] of entries) {
        size += key.length + 3;
        stack.push(child);
      }
    } else size += String(current).length;
    if (size > limit) return size;
  }
  return size;
}

