/** A URL as messages may show it: user and password, if any, left out; `placeholder` when it does not parse. */
export function withoutCredentials(url: string, placeholder = '<the given URL>'): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return placeholder;
  }
}
