/** The copyable curl and Python snippets of an adapter page. */

export function curlDownload(origin: string, task: string, version: string): string {
  return [
    `curl -fSL -o adapter.safetensors \\`,
    `  -H "Authorization: Bearer $ADAPTER_STORE_KEY" \\`,
    `  "${origin}/adapters/${task}/download?version=${version}&file=adapter.safetensors"`,
  ].join('\n');
}

export function curlPredict(origin: string, task: string, version: string): string {
  return [
    `curl -sS -X POST "${origin}/adapters/${task}/predict?version=${version}" \\`,
    `  -H "Authorization: Bearer $ADAPTER_STORE_KEY" -H "Content-Type: application/json" \\`,
    `  -d '{"inputs": ["a wonderful film"]}'`,
  ].join('\n');
}

export function pythonDownload(origin: string, task: string, version: string, files: string[]): string {
  return [
    'import os, requests',
    '',
    `API = "${origin}"`,
    'headers = {"Authorization": f"Bearer {os.environ[\'ADAPTER_STORE_KEY\']}"}',
    `for name in ${JSON.stringify(files)}:`,
    `    r = requests.get(f"{API}/adapters/${task}/download", params={"version": "${version}", "file": name}, headers=headers)`,
    '    r.raise_for_status()',
    '    open(name, "wb").write(r.content)',
  ].join('\n');
}
