import { App, type AppProps } from 'aws-cdk-lib';
import { fileTempDir } from './temp-dir.ts';

/**
 * A CDK App whose cloud assembly goes to a temp directory removed after the test file.
 *
 * Why: an App without `outdir` synthesizes into a fresh `os.tmpdir()/cdk.outXXXXXX` that nothing
 * removes (with bundles, 67 MB a synth; a developer's /tmp had 4.4 GB of them). Setting CDK_OUTDIR
 * instead is no fix: with it set, every App synthesizes once more on the process's `beforeExit`
 * (aws-cdk-lib's App, `autoSynth`).
 */
export function testApp(props: Omit<AppProps, 'outdir'> = {}): App {
  return new App({ ...props, outdir: fileTempDir('cdk-test-') });
}
