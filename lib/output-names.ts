/**
 * Construct ids and CloudFormation output names derived from the topology's ids (`fanOut` →
 * `FanOut…`): the stack writes them, the operator CLI reads them (`--stack`), from this one place.
 */

/** `fanOut` → `FanOut`. */
export function pascal(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}

/** A queue's URL outputs: `SendQueueUrl` and `SendDeadLetterQueueUrl` for `send`. */
export function queueUrlOutputs(queueId: string): { queue: string; deadLetter: string } {
  return { queue: `${pascal(queueId)}QueueUrl`, deadLetter: `${pascal(queueId)}DeadLetterQueueUrl` };
}
