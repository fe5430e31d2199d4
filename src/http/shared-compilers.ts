import { AjvCompiler } from '@fastify/ajv-compiler';
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

// Fastify compiles every route's request validator (Ajv) and response serializer (fast-json-stringify) again for
// each app, and that was about 40 % of a deployment's start. The compiled functions depend only on the schema's
// content and the compiler options, so every listener app in this process shares them: a second listener, a
// restart, the test suite's many deployments and the mutation runner's one server per mutant reuse what the first
// compiled. Fastify's own factories still do the compiling, with the options each app passes.

type ValidatorFactory = ReturnType<typeof AjvCompiler>;
type SerializerFactory = ReturnType<typeof SerializerSelector>;
type RouteSchema = { schema: unknown };

/** Compiled functions by options and schema content; both are plain JSON (TypeBox's symbols carry no rules). */
const compiled = new Map<string, unknown>();

function memo<T>(key: string, compile: () => T): T {
  if (!compiled.has(key)) compiled.set(key, compile());
  return compiled.get(key) as T;
}

const pooledValidators: ValidatorFactory = AjvCompiler();
const serializers: SerializerFactory = SerializerSelector();

/** Validator factory for `schemaController.compilersFactory`: Fastify's Ajv compiler, memoized by schema. */
const buildValidator = ((externalSchemas, options) => {
  const compile = pooledValidators(externalSchemas, options);
  const pool = `validator:${JSON.stringify(externalSchemas)}:${JSON.stringify(options?.customOptions ?? {})}:`;
  return (route: RouteSchema) =>
    memo(`${pool}${JSON.stringify(route.schema)}`, () => compile(route as Parameters<typeof compile>[0]));
}) as ValidatorFactory;

/** Serializer factory for `schemaController.compilersFactory`: fast-json-stringify, memoized by schema. */
const buildSerializer = ((externalSchemas, options) => {
  const compile = serializers(externalSchemas, options);
  const pool = `serializer:${JSON.stringify(externalSchemas)}:${JSON.stringify(options ?? {})}:`;
  return (route: RouteSchema) =>
    memo(`${pool}${JSON.stringify(route.schema)}`, () => compile(route as Parameters<typeof compile>[0]));
}) as SerializerFactory;

/** The compilers every listener app uses (Fastify's `schemaController` option). */
export const sharedSchemaController = { compilersFactory: { buildValidator, buildSerializer } };
