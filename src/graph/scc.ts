/**
 * Tarjan's strongly connected components, iterative so that deep graphs (10,000s of nodes)
 * cannot overflow the stack. Components come out in reverse topological order of the
 * condensed graph; each component's members are sorted for determinism.
 */
export function stronglyConnectedComponents(nodes: readonly string[], successors: (node: string) => Iterable<string>): string[][] {
  const indexOf = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;

  for (const root of nodes) {
    if (indexOf.has(root)) continue;
    const work: Array<{ node: string; iterator: Iterator<string> }> = [];
    const enter = (node: string) => {
      indexOf.set(node, counter);
      lowLink.set(node, counter);
      counter++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, iterator: successors(node)[Symbol.iterator]() });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const next = frame.iterator.next();
      if (!next.done) {
        const successor = next.value;
        if (!indexOf.has(successor)) enter(successor);
        else if (onStack.has(successor)) lowLink.set(frame.node, Math.min(lowLink.get(frame.node)!, indexOf.get(successor)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) lowLink.set(parent.node, Math.min(lowLink.get(parent.node)!, lowLink.get(frame.node)!));
      if (lowLink.get(frame.node) === indexOf.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}
