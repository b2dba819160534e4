// Compiled, never run: each @ts-expect-error below must meet a type error, or tsc reports it as unused (TS2578).
// So this file proves that the generated types constrain the client, instead of letting everything through.
import type { ProblemCode, TesseraClient } from '../../../examples/typescript-client/client'

export async function typeChecks (client: TesseraClient): Promise<ProblemCode | undefined> {
  const { data, error } = await client.api.POST('/v1/auth/login', { body: { email: 'ada@example.com', password: 'x' } })
  if (error !== undefined) {
    // @ts-expect-error error.code is a union of Tessera's codes, not any string: a typo cannot compile.
    if (error.code === 'ERR_EMAIL_TAKN') return undefined
    // `errors` is typed from the Problem schema too.
    const paths: string[] | undefined = error.errors?.map((e) => e.path)
    void paths
    return error.code
  }
  // Once the error is ruled out, data is an AuthResult or an MfaChallenge: both have expiresIn...
  const expiresIn: number = data.expiresIn
  void expiresIn
  // @ts-expect-error ...but only an AuthResult has tokens: the union must be told apart first.
  void data.accessToken
  if (!('mfaRequired' in data)) {
    const accessToken: string = data.accessToken
    void accessToken
  } else {
    // @ts-expect-error the second step takes a 6-digit code or a recoveryCode, not a password.
    await client.api.POST('/v1/auth/mfa/verify', { body: { mfaToken: data.mfaToken, password: 'x' } })
  }

  // @ts-expect-error a code that does not exist is not a ProblemCode.
  const unknown: ProblemCode = 'ERR_NO_SUCH_CODE'
  void unknown

  // @ts-expect-error login needs a password.
  await client.api.POST('/v1/auth/login', { body: { email: 'ada@example.com' } })
  // @ts-expect-error no such route.
  await client.api.GET('/v1/no-such-route')
  // @ts-expect-error the role is 'user' or 'admin'.
  await client.api.PATCH('/v1/users/{id}', { params: { path: { id: 'x' } }, body: { role: 'root' } })
  // @ts-expect-error the path parameter is required.
  await client.api.GET('/v1/users/{id}', {})
  // @ts-expect-error limit is a number.
  await client.api.GET('/v1/users', { params: { query: { limit: 'ten' } } })
  // @ts-expect-error name is a string or null.
  await client.api.PATCH('/v1/me', { body: { name: 42 } })

  const me = await client.api.GET('/v1/me')
  // @ts-expect-error data may be undefined until the error is ruled out.
  void me.data.email
  // Nullable fields stay nullable: name is string | null.
  const name: string | null = me.data?.name ?? null
  void name
  return undefined
}
