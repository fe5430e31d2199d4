import type { PublicApiRoutes } from './api-routes.js';
import type { ClientResponse } from './http.js';

/** An RFC 9457 problem as the client may receive it (every field optional: a proxy's error may carry none). */
export interface ProblemBody {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  code?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** A path split at `/`, the query string dropped. */
type Segments<P extends string> = P extends `${infer Path}?${string}`
  ? Segments<Path>
  : P extends `${infer Head}/${infer Tail}`
    ? [Head, ...Segments<Tail>]
    : [P];

/** Whether concrete path segments fit a template's (`{name}` fits any one segment). */
type Fits<A extends string[], T extends string[]> = A extends [infer a extends string, ...infer ar extends string[]]
  ? T extends [infer t extends string, ...infer tr extends string[]]
    ? (t extends `{${string}}` ? true : a extends t ? true : false) extends true
      ? Fits<ar, tr>
      : false
    : false
  : T extends []
    ? true
    : false;

/** The public API route a method and path call, or never when the path is not a literal one of them. */
export type RouteFor<M extends string, P extends string> = {
  [K in keyof PublicApiRoutes]: K extends `${M} ${infer Template}`
    ? Fits<Segments<P>, Segments<Template>> extends true
      ? K
      : never
    : never;
}[keyof PublicApiRoutes];

/** The response bodies a route declares, by status. */
export type ResponsesOf<K extends keyof PublicApiRoutes> = PublicApiRoutes[K]['responses'];

/** What `json` holds for a call: a declared body or a problem (null without a JSON body); unknown off the map. */
export type JsonFor<M extends string, P extends string> = [RouteFor<M, P>] extends [never]
  ? unknown
  : ResponsesOf<RouteFor<M, P>>[keyof ResponsesOf<RouteFor<M, P>>] | ProblemBody | null;

/** A response of `client.api()`, its `json` typed by the route called. */
export type ApiResponse<M extends string, P extends string> = Omit<ClientResponse, 'json'> & { json: JsonFor<M, P> };
