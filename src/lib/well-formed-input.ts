// Refuses ill-formed Unicode (a lone UTF-16 surrogate) in every string of a request body, query string or path parameter.
import type { TSchema } from '@sinclair/typebox'
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify'

/**
 * Marks a string schema whose own rules already refuse ill-formed Unicode with a more specific answer:
 * passwords (ERR_PASSWORD_MALFORMED on a new one; on login the same 401 as every other bad credential).
 */
const CHECKS_OWN_UNICODE = Symbol('tessera.checksOwnUnicode')

export function checksOwnUnicode<T extends TSchema> (schema: T): T {
  return Object.assign(schema, { [CHECKS_OWN_UNICODE]: true })
}

const WELL_FORMED_MESSAGE = 'must be well-formed Unicode (no unpaired surrogate)'

const pointer = (parent: string, key: string | number): string =>
  `${parent}/${String(key).replaceAll('~', '~0').replaceAll('/', '~1')}`

type SchemaNode = TSchema & { [CHECKS_OWN_UNICODE]?: true }

/**
 * The JSON Pointer of the first ill-formed string (or property name) in `value`, or null. The schema is
 * followed only to find the strings that opted out; data it does not describe is checked all the same.
 */
function firstIllFormed (value: unknown, schema: SchemaNode | undefined, path: string): string | null {
  if (typeof value === 'string') {
    return schema?.[CHECKS_OWN_UNICODE] === true || value.isWellFormed() ? null : (path === '' ? '/' : path)
  }
  if (Array.isArray(value)) {
    const items = schema?.items as SchemaNode | undefined
    for (let i = 0; i < value.length; i++) {
      const found = firstIllFormed(value[i], items, pointer(path, i))
      if (found !== null) return found
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    const properties = schema?.properties as Record<string, SchemaNode> | undefined
    for (const [key, child] of Object.entries(value)) {
      if (!key.isWellFormed()) return path === '' ? '/' : path
      const found = firstIllFormed(child, properties?.[key], pointer(path, key))
      if (found !== null) return found
    }
  }
  return null
}

/**
 * Wraps a validator compiler so that every request part it validates is first checked for lone surrogates.
 * JSON may escape one ("\ud800"), and it cannot be stored as UTF-8: SQLite keeps the raw UTF-16 and
 * PostgreSQL writes U+FFFD, so two different inputs would name one row on one store and two on the other.
 */
export function wellFormedInput<T> (compiler: FastifySchemaCompiler<T>): FastifySchemaCompiler<T> {
  return (route) => {
    const validate = compiler(route)
    const schema = route.schema as SchemaNode
    return (data: unknown) => {
      const path = firstIllFormed(data, schema, '')
      if (path === null) return validate(data)
      const error: FastifySchemaValidationError = { keyword: 'wellFormed', instancePath: path, schemaPath: '#', params: {}, message: WELL_FORMED_MESSAGE }
      return { error: [error] }
    }
  }
}
