import type { UnitEdge } from '../graph/units.js';
import { compareStrings } from '../util/stable.js';

export type PlanOrder = 'consumers-first' | 'providers-first';

/**
 * Wave number (1-based) of each unit. Consumers first: a unit moves in the wave right after
 * the last of its callers, so every slice moves before the slices it depends on and each
 * provider follows its consumers as soon as it can (shortening cross-cluster calls).
 * Providers first is the mirror image. The unit graph must be acyclic (units merge cycles).
 */
export function assignWaves(units: readonly string[], edges: readonly UnitEdge[], order: PlanOrder): Map<string, number> {
  const before = new Map<string, string[]>(); // unit → units that must move in an earlier wave
  for (const unit of units) before.set(unit, []);
  for (const edge of edges) {
    if (order === 'consumers-first') before.get(edge.to)!.push(edge.from);
    else before.get(edge.from)!.push(edge.to);
  }
  const wave = new Map<string, number>();
  const visiting = new Set<string>();
  const waveOf = (unit: string): number => {
    const known = wave.get(unit);
    if (known !== undefined) return known;
    // Iterative deepening would be overkill: depth is bounded by the number of units, and
    // the recursion below is replaced by an explicit stack to stay safe on long chains.
    const stack: string[] = [unit];
    while (stack.length > 0) {
      const current = stack[stack.length - 1]!;
      if (wave.has(current)) { stack.pop(); continue; }
      visiting.add(current);
      const pending = before.get(current)!.filter((other) => !wave.has(other));
      if (pending.length > 0) {
        for (const other of pending) if (visiting.has(other)) throw new Error(`cycle between ${current} and ${other} in the unit graph`);
        stack.push(...pending);
        continue;
      }
      wave.set(current, 1 + Math.max(0, ...before.get(current)!.map((other) => wave.get(other)!)));
      visiting.delete(current);
      stack.pop();
    }
    return wave.get(unit)!;
  };
  for (const unit of [...units].sort(compareStrings)) waveOf(unit);
  return wave;
}
