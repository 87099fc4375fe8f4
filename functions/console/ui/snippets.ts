/**
 * The copyable curl and Python snippets of an adapter page. They read the API key from KEY, the variable
 * the README's worked example sets (`KEY=$(cat .adapter-store/api-key)`), so a reader of both sees one name.
 */

/** The shell variable holding the API key, as the README names it. */
export const KEY_VARIABLE = 'KEY';

/** How to set it, shown above the snippets (exported: the Python snippet reads the environment). */
export const KEY_SETUP = `export ${KEY_VARIABLE}=$(cat .adapter-store/api-key)`;

export function curlDownload(origin: string, task: string, version: string): string {
  return [
    `curl -fSL -o adapter.safetensors \\`,
    `  -H "Authorization: Bearer $${KEY_VARIABLE}" \\`,
    `  "${origin}/adapters/${task}/download?version=${version}&file=adapter.safetensors"`,
  ].join('\n');
}

export function curlPredict(origin: string, task: string, version: string): string {
  return [
    `curl -sS -X POST "${origin}/adapters/${task}/predict?version=${version}" \\`,
    `  -H "Authorization: Bearer $${KEY_VARIABLE}" -H "Content-Type: application/json" \\`,
    `  -d '{"inputs": ["a wonderful film"]}'`,
  ].join('\n');
}

export function pythonDownload(origin: string, task: string, version: string, files: string[]): string {
  return [
    'import os, requests',
    '',
    `API = "${origin}"`,
    `headers = {"Authorization": f"Bearer {os.environ['${KEY_VARIABLE}']}"}`,
    `for name in ${JSON.stringify(files)}:`,
    `    r = requests.get(f"{API}/adapters/${task}/download", params={"version": "${version}", "file": name}, headers=headers)`,
    '    r.raise_for_status()',
    '    open(name, "wb").write(r.content)',
  ].join('\n');
}
