export * from './support/app'
