// Route schemas are compiled when a route first needs them, not all at start-up.
import type * as FastJsonStringify from '@fastify/fast-json-stringify-compiler'
import { TypeBoxValidatorCompiler } from '@fastify/type-provider-typebox'
import type { TSchema } from '@sinclair/typebox'
import type { FastifySchemaCompiler, FastifyServerOptions } from 'fastify'
import { wellFormedInput } from './well-formed-input'

/**
 * `compile()` runs on the first call, then its result answers every call. Compiling every route's request checks and
 * every response's serializer up front (TypeBox and fast-json-stringify) was about a third of the time from spawn to
 * the first answer (bench: cold start), and their code stayed in memory for routes a process never served.
 */
export function onFirstUse<A extends unknown[], R> (compile: () => (...args: A) => R): (...args: A) => R {
  let compiled: ((...args: A) => R) | undefined
  return (...args: A): R => (compiled ??= compile())(...args)
}

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>
type Factories = NonNullable<SchemaController['compilersFactory']>

/**
 * Fastify's `schemaController`: TypeBox checks (behind the well-formed Unicode check) for requests,
 * fast-json-stringify for responses, given the shared schemas as usual. Ajv, Fastify's default validator, is then
 * never loaded. `when: 'first-use'` (the server) defers each compilation to the route's first request, so a schema
 * error would show there; `'start'` compiles everything while the app boots, which is how test/app.test.ts proves
 * that every schema of every route compiles.
 */
export function schemaController (when: 'first-use' | 'start'): SchemaController {
  const defer = <A extends unknown[], R>(compile: () => (...args: A) => R): (...args: A) => R =>
    when === 'start' ? compile() : onFirstUse(compile)
  const validator: FastifySchemaCompiler<TSchema> = wellFormedInput((route) => defer(() => TypeBoxValidatorCompiler(route)))
  return {
    compilersFactory: {
      // Fastify's type names Ajv's compiler, but any schema compiler works: app.setValidatorCompiler() installs one the same way.
      buildValidator: (() => validator) as unknown as Factories['buildValidator'],
      buildSerializer: (externalSchemas, options) => {
        let compiler: FastJsonStringify.SerializerCompiler | undefined
        const compile = (route: FastJsonStringify.RouteDefinition): FastJsonStringify.Serializer => {
          // Loaded with the first serializer: fast-json-stringify brings Ajv along (tens of ms and MiB at start-up).
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- a deferred load needs a synchronous require
          const { SerializerSelector } = require('@fastify/fast-json-stringify-compiler') as typeof FastJsonStringify
          compiler ??= SerializerSelector()(externalSchemas, options)
          return compiler(route)
        }
        return (route) => defer(() => compile(route))
      }
    }
  }
}
