import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { BroadcastStack } from '../lib/stack.ts';
import { testApp } from './support/cdk-app.ts';

/**
 * The README's deploy guide, held to the code as far as a machine without an AWS account can: every
 * `-c name=value` it tells a person to pass is a context key bin/app.ts reads, every stack output it
 * names is in the synthesized template, and every `npm run cli -- …` command it shows is one the CLI
 * knows. A renamed flag or output fails here, not in someone's first deploy.
 */
const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const cdkJsonContext = (JSON.parse(readFileSync(join(repoRoot, 'cdk.json'), 'utf8')) as { context: object })
  .context;

/** The text of the README's `## Deploy to AWS…` section, up to the next `## ` heading. */
function deploySection(): string {
  const start = readme.search(/^## Deploy to AWS/m);
  if (start < 0) throw new Error('README.md has no "## Deploy to AWS" section');
  const rest = readme.slice(start + 3);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

const appSource = readFileSync(join(repoRoot, 'bin', 'app.ts'), 'utf8');
/** The context keys bin/app.ts reads (`context('name')`). */
const contextKeys = new Set([...appSource.matchAll(/context\('([A-Za-z]+)'\)/g)].map((m) => m[1]));

describe("the README's deploy guide", { timeout: 60_000 }, () => {
  const section = deploySection();
  let outputs: Set<string>;
  let app: App;
  beforeAll(() => {
    app = testApp({ context: { ...cdkJsonContext, 'aws:cdk:bundling-stacks': [] } });
    // As `cdk deploy` synthesizes it: the CLI sets the account and region (bin/app.ts passes them on),
    // so ARNs hold literal values where a test without them sees pseudo parameters. With a custom
    // domain, as the guide mentions: its PublicBaseUrl output exists only then.
    const stack = new BroadcastStack(app, 'Broadcast', {
      env: { account: '123456789012', region: 'eu-west-1' },
      publicBaseUrl: 'https://api.example.com',
    });
    outputs = new Set(Object.keys(Template.fromStack(stack).toJSON().Outputs ?? {}));
  }, 60_000);

  it('is cdk-nag clean as cdk deploy synthesizes it, with an account and a region (each finding acknowledged)', () => {
    const violations = new AwsSolutionsChecks(app)
      .validateScope(app)
      .violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath)}`);
    expect(violations).toEqual([]);
  });

  it('passes only context flags the CDK app reads', () => {
    const flags = [...section.matchAll(/-c ([A-Za-z]+)=/g)].map((m) => m[1]);
    expect(flags.length).toBeGreaterThan(2);
    expect(flags.filter((flag) => !contextKeys.has(flag))).toEqual([]);
  });

  it('names only outputs the stack has (every `CamelCase…Url`, `…Name` or `…Arn` in backticks)', () => {
    const named = [...section.matchAll(/`([A-Z][A-Za-z]+(?:Url|Name|Arn))`/g)].map((m) => m[1] as string);
    const listed = [...section.matchAll(/OutputKey=='([A-Za-z]+)'/g)].map((m) => m[1] as string);
    const all = [...new Set([...named, ...listed])];
    expect(all.length).toBeGreaterThan(3);
    expect(all.filter((name) => !outputs.has(name))).toEqual([]);
  });

  it('shows only CLI commands the CLI knows', () => {
    // The CLI's own usage text (npm run cli -- help) names every command it has.
    const usage = execFileSync(process.execPath, [join(repoRoot, 'bin', 'cli.ts'), 'help'], {
      encoding: 'utf8',
    });
    const commands = [...section.matchAll(/npm run cli -- ([a-z-]+) ([a-z-]+)/g)].map((m) => [m[1], m[2]]);
    expect(commands.length).toBeGreaterThan(0);
    for (const [noun, verb] of commands) {
      expect(usage, `npm run cli -- ${noun} ${verb}`).toContain(`npm run cli -- ${noun} ${verb}`);
    }
  });
});
