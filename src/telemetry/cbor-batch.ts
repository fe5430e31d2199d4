import { decode } from 'cbor2';
import { CarapaceError } from '../platform/index.js';

/** The CBOR media type of a batch. */
export const CBOR = 'application/cbor';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a CBOR batch (RFC 8949): a map `{"messages": [{"signed": bytes, "sig": bytes}, …]}` where `signed`
 * is the UTF-8 canonical JSON the device signed (a byte or text string) and `sig` the 64-byte signature.
 * Each message becomes the same `{signed, sig}` pair as in a JSON batch, so both encodings share one
 * verification path and store the same raw bytes. A message that cannot be mapped is passed on as it is,
 * and gets its own `invalid_schema` verdict; a body that is not such a map is refused whole.
 */
export function decodeCborBatch(body: Buffer): unknown[] {
  let value: unknown;
  try {
    value = decode(new Uint8Array(body.buffer, body.byteOffset, body.byteLength), {
      rejectDuplicateKeys: true,
      maxDepth: 8,
    });
  } catch {
    throw new CarapaceError('ERR_BAD_REQUEST', 'the request body is not valid CBOR');
  }
  if (
    typeof value !== 'object' ||
    value === null ||
    Array.isArray(value) ||
    value instanceof Map ||
    Object.keys(value).join() !== 'messages'
  ) {
    throw new CarapaceError('ERR_VALIDATION', 'a CBOR batch is a map with the one key "messages"', { field: 'body' });
  }
  const messages = (value as { messages: unknown }).messages;
  if (!Array.isArray(messages) || messages.length === 0)
    throw new CarapaceError('ERR_VALIDATION', 'body.messages must be a non-empty array', { field: 'body.messages' });
  return messages.map(fromCbor);
}

function fromCbor(item: unknown): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item) || item instanceof Map) return item;
  const { signed, sig, ...rest } = item as { signed?: unknown; sig?: unknown };
  if (Object.keys(rest).length > 0) return item;
  try {
    const text = signed instanceof Uint8Array ? utf8.decode(signed) : signed;
    const signature = sig instanceof Uint8Array ? Buffer.from(sig).toString('base64url') : sig;
    return { signed: text, sig: signature };
  } catch {
    // Not UTF-8: it cannot be canonical JSON.
    return item;
  }
}
