/**
 * Connection strings carry passwords; nothing Ferry prints may contain one. `redactUrl`
 * hides the password of one URL or key=value conninfo, `Redactor` hides every secret it has
 * seen in any text (PostgreSQL error messages sometimes echo the conninfo).
 */
const MASK = '***';

export function redactUrl(connection: string): string {
  if (/^postgres(ql)?:\/\//i.test(connection)) {
    try {
      const url = new URL(connection);
      if (url.password) url.password = MASK;
      for (const key of [...url.searchParams.keys()]) if (/pass/i.test(key)) url.searchParams.set(key, MASK);
      return url.toString().replace(encodeURIComponent(MASK), MASK);
    } catch {
      return connection.replace(/(\/\/[^:/@]*:)[^@]*@/, `$1${MASK}@`);
    }
  }
  return connection.replace(/(password\s*=\s*)('([^'\\]|\\.)*'|\S+)/gi, `$1${MASK}`);
}

export function passwordOf(connection: string): string | undefined {
  if (/^postgres(ql)?:\/\//i.test(connection)) {
    try {
      const url = new URL(connection);
      return url.password ? decodeURIComponent(url.password) : (url.searchParams.get('password') ?? undefined);
    } catch {
      return undefined;
    }
  }
  const match = /password\s*=\s*('((?:[^'\\]|\\.)*)'|\S+)/i.exec(connection);
  return match ? (match[2] ?? match[1]) : undefined;
}

export class Redactor {
  private readonly secrets = new Set<string>();

  constructor(connections: string[] = []) {
    for (const connection of connections) this.addConnection(connection);
  }

  addConnection(connection: string): void {
    const password = passwordOf(connection);
    if (password && password.length >= 3) {
      this.secrets.add(password);
      this.secrets.add(encodeURIComponent(password));
    }
  }

  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) out = out.split(secret).join(MASK);
    return out;
  }
}
