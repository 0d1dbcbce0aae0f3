import { type Stack, Token } from 'aws-cdk-lib';

/**
 * An ARN's account and region as cdk-nag writes them in a finding's id (`AwsSolutions-IAM5[Resource::…]`):
 * the pseudo parameters `<AWS::AccountId>` and `<AWS::Region>` when the stack's environment is left to
 * deploy time, the literal values when it is set. `cdk deploy` sets it (bin/app.ts passes
 * CDK_DEFAULT_ACCOUNT and CDK_DEFAULT_REGION, which the CLI fills from the credentials), so an
 * acknowledgment written with the pseudo parameters alone would match in tests and fail on a deploy.
 */
export function nagEnv(stack: Stack): { account: string; region: string } {
  return {
    account: Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account,
    region: Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region,
  };
}
