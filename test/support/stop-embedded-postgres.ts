// tap's `before` and `after` hook (package.json "tap"): stops the embedded PostgreSQL of this run, if a test started
// one, and any left by runs that were interrupted. tap runs this script and the test files as children of one process.
import { stopFinishedRuns } from './embedded-postgres'

stopFinishedRuns(process.ppid)
