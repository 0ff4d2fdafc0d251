/** SQL text helpers: identifiers and literals quoted the way PostgreSQL's quote_ident/quote_literal do. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.table` written as `"schema"."table"`. */
export function qualified(table: string): string {
  const dot = splitQualified(table);
  return `${ident(dot.schema)}.${ident(dot.name)}`;
}

export function splitQualified(table: string): { schema: string; name: string } {
  const index = table.indexOf('.');
  return index < 0 ? { schema: 'public', name: table } : { schema: table.slice(0, index), name: table.slice(index + 1) };
}

export function literal(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
