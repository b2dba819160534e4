// RFC 9457 problem+json schemas and the response headers that go with them (RFC 6750, rate limits).
import { Type, type TSchema } from '@sinclair/typebox'
import { PROBLEM_CODES, type ProblemCode } from '../lib/problem'

export const FieldErrorSchema = Type.Object({
  path: Type.String({ description: 'JSON Pointer to the offending field' }),
  message: Type.String()
})

export const ProblemSchema = Type.Object({
  type: Type.String({ description: 'URI naming the problem type' }),
  title: Type.String(),
  status: Type.Integer(),
  detail: Type.String(),
  // A plain string enum (not a union of literals): the response serializer writes it as a string, unchecked.
  code: Type.Unsafe<ProblemCode>({
    type: 'string',
    enum: [...PROBLEM_CODES],
    description: 'Stable machine-readable code. New codes may be added in later versions: keep a default branch'
  }),
  errors: Type.Optional(Type.Array(FieldErrorSchema)),
  requestId: Type.Optional(Type.String({ description: 'The X-Request-Id of the request: quote it in a bug report, it finds the log lines' }))
}, { $id: 'Problem', title: 'Problem', description: 'RFC 9457 problem details' })

const ref = Type.Ref('Problem')

/** A problem response; fastify-swagger documents the content type given here. */
export const problem = (description: string): TSchema => ({ ...ref, description })

export const wwwAuthenticate = (description: string): TSchema => Type.String({ description })

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
