import https from 'node:https';

/** A response as the client sees it. */
export interface ClientResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

/** TLS settings for the client: the CA to trust and, for devices, a client certificate. */
export interface ClientTls {
  ca?: string | string[];
  cert?: string;
  key?: string;
  /** A keep-alive agent to reuse connections across calls (none: one connection per request). */
  agent?: https.Agent;
}

/** A minimal cookie jar for one authorization server (name -> value), enough for the interaction cookies. */
export class CookieJar {
  private cookies = new Map<string, string>();

  /** Stores the Set-Cookie headers of a response (expired ones are removed). */
  store(setCookie: string | string[] | undefined): void {
    for (const line of Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair?.indexOf('=') ?? -1;
      if (!pair || eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\b/i.test(a));
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, pair.slice(eq + 1).trim());
    }
  }

  /** The Cookie header value. */
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/**
 * One HTTPS request; never follows redirects (the caller decides). A kept-alive connection the server closed while
 * idle (its idle deadline) can fail as the request is written: that request never reached the server, so it is sent
 * once more on a new connection (Node's `reusedSocket` advice), and any other error is the caller's.
 */
export async function request(url: string, options: Parameters<typeof requestOnce>[1]): Promise<ClientResponse> {
  try {
    return await requestOnce(url, options);
  } catch (err) {
    if (!(err instanceof StaleSocketError)) throw err;
    return requestOnce(url, options);
  }
}

/** A kept-alive socket that was already closed by the server when it was reused. */
class StaleSocketError extends Error {}

function requestOnce(
  url: string,
  options: ClientTls & {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Uint8Array;
    jar?: CookieJar;
    agent?: https.Agent;
  },
): Promise<ClientResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    const cookie = options.jar?.header();
    if (cookie) headers.cookie = cookie;
    if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    let responded = false;
    const req = https.request(
      url,
      {
        method: options.method ?? 'GET',
        headers,
        ca: options.ca,
        cert: options.cert,
        key: options.key,
        agent: options.agent ?? false,
      },
      (res) => {
        responded = true;
        options.jar?.store(res.headers['set-cookie']);
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
      },
    );
    req.on('error', (err: NodeJS.ErrnoException) => {
      // Only before any response: a connection lost mid-answer may have carried out the request.
      const stale = !responded && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE');
      reject(stale ? new StaleSocketError(err.message, { cause: err }) : err);
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

/** A keep-alive connection pool for a client that makes many calls (close it with `destroy()` when done). */
export function keepAliveAgent(maxSockets = 8): https.Agent {
  return new https.Agent({ keepAlive: true, maxSockets });
}

/** An error from the authorization server or the API, with its parsed body. */
export class CarapaceClientError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'CarapaceClientError';
  }
}
