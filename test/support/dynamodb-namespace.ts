// Vitest setup file, run first in every test file's process before its modules load: the access key
// this process uses with DynamoDB Local (lib/local/aws-local.ts), so that in the suite's shared
// instance (shared-dynamodb.ts) its tables are its own. Child processes (the CLI, npm start) inherit it.
process.env.TWIN_DYNAMODB_NAMESPACE = `t${process.pid}x${Math.random().toString(36).slice(2, 10)}`;
