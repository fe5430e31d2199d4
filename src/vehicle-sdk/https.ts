import https from 'node:https';

/** A response as the device SDK sees it. */
export interface HttpsResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body, or null when the body is not JSON. */
  json: unknown;
}

/** TLS identity and trust for a request. */
export interface TlsIdentity {
  ca: string | string[];
  cert?: string;
  key?: string;
  /** Reuse connections (keep-alive) through this agent. */
  agent?: https.Agent;
}

/** One HTTPS request with client-certificate authentication. */
export function httpsRequest(
  url: string,
  options: TlsIdentity & { method?: string; headers?: Record<string, string>; body?: string | Uint8Array },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: options.method ?? 'GET',
      headers: options.body === undefined ? options.headers : { 'content-length': String(Buffer.byteLength(options.body)), ...options.headers },
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      agent: options.agent ?? false,
      servername: new URL(url).hostname.match(/^[\d.]+$|:/) ? undefined : new URL(url).hostname,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        if (/json/.test(String(res.headers['content-type']))) {
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}
