// The store as seen by the services when metrics are on: every failed call is counted (tessera_store_errors_total).
import { EmailTakenError, LastAdminError, type UserStore } from '../store/user-store'
import type { Metrics } from './metrics'

/** Refusals the store answers by design: not failures of the store. */
const isRefusal = (err: unknown): boolean => err instanceof EmailTakenError || err instanceof LastAdminError

/**
 * A wrapper, not a change to each store: both stores are counted alike, including calls whose failure nobody awaits
 * (the purges, best-effort event writes). Only with metrics on; without, the services get the store itself.
 */
export function countingStoreErrors (store: UserStore, metrics: Metrics): UserStore {
  const wrapped = new Map<PropertyKey, unknown>()
  return new Proxy(store, {
    get (target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver)
      if (typeof value !== 'function' || typeof prop !== 'string') return value
      let wrapper = wrapped.get(prop)
      if (wrapper === undefined) {
        const method = value as (...args: unknown[]) => unknown
        wrapper = (...args: unknown[]): unknown => {
          const result = method.apply(target, args)
          if (!(result instanceof Promise)) return result
          return result.catch((err: unknown) => {
            if (!isRefusal(err)) metrics.storeError(prop)
            throw err
          })
        }
        wrapped.set(prop, wrapper)
      }
      return wrapper
    }
  })
}
