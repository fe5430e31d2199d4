import https from 'node:https';

/** Sends a request with the path exactly as given (no URL normalization), for path-variant attacks. */
export function rawRequest(
  base: string,
  rawPath: string,
  options: { method?: string; ca: string; cert?: string; key?: string; body?: string },
): Promise<{ status: number; body: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: u.hostname,
        port: u.port,
        path: rawPath,
        method: options.method ?? 'GET',
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        agent: false,
        servername: 'localhost',
        headers: options.body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    if (options.body) req.write(options.body);
    req.end();
  });
}
