/**
 * A deployed stack's CloudFormation outputs (lib/stack.ts names them: MainTableName, SendQueueUrl,
 * SendDeadLetterQueueUrl, …), for the operator CLI's `--stack`. DescribeStacks needs
 * `cloudformation:DescribeStacks` on the stack.
 */
export async function stackOutputs(stackName: string, region: string): Promise<Record<string, string>> {
  // Loaded only here: every other command starts without it.
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({ region });
  try {
    const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs: Record<string, string> = {};
    for (const o of Stacks?.[0]?.Outputs ?? [])
      if (o.OutputKey && o.OutputValue) outputs[o.OutputKey] = o.OutputValue;
    return outputs;
  } catch (error) {
    if (error instanceof Error && error.name === 'ValidationError')
      throw new Error(`No stack named ${stackName} in ${region}: check --stack and --region.`);
    throw error;
  } finally {
    cfn.destroy();
  }
}

/** One output by name; a stack without it is not this project's (or predates the output). */
export function requiredOutput(
  outputs: Record<string, string>,
  name: string,
  where: { stackName: string; region: string },
): string {
  const value = outputs[name];
  if (!value)
    throw new Error(
      `Stack ${where.stackName} (${where.region}) has no ${name} output: is it this project's stack?`,
    );
  return value;
}
