/** The platform module's public surface: other folders import only from here. */
export { FixedClock, systemClock } from './clock.js';
export type { Clock } from './clock.js';
export { CarapaceError, ERROR_STATUS, isCarapaceError, problemType } from './errors.js';
export { ERROR_DESCRIPTIONS } from './error-reference.js';
export { isDatabaseUnavailable } from './database-outage.js';
export { assertNoFaultPoints, faultPoint, type FaultPointName } from './fault-points.js';
export type { ErrorCode } from './errors.js';
export { writePrivateFile } from './files.js';
export { newCertificateSerial, newId, normalizeSerial } from './ids.js';
export { createLogger } from './log.js';
export type { Logger } from './log.js';
export {
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  X509CertificateGenerator,
} from './x509.js';
export type { X509Certificate } from './x509.js';
export * as x509 from './x509.js';
export { formatTraceparent, parseTraceparent, untraced } from './trace.js';
export type { SpanAttributes, SpanKind, TraceSpan, Tracer } from './trace.js';
