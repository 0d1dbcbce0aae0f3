/** Region and throwaway credentials for the local emulators; nothing here reaches AWS. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';

/**
 * A DynamoDB Local started without `-sharedDb` keeps one database per access key and region: the
 * test suite runs one such instance for all its files and gives each file's process a key of its
 * own (TWIN_DYNAMODB_NAMESPACE, letters and digits; test/support/dynamodb-namespace.ts), so their
 * tables, all named alike, stay apart. Unset (npm start, the bench): `local`. The twin's own
 * DynamoDB Local runs with `-sharedDb`, where the key does not matter.
 */
const namespace = process.env.TWIN_DYNAMODB_NAMESPACE;
export const LOCAL_CREDENTIALS = {
  accessKeyId: namespace && /^[A-Za-z0-9]{1,64}$/.test(namespace) ? namespace : 'local',
  secretAccessKey: 'local',
} as const;
