/**
 * Records a build's answers to the differential requests (test/differential/requests.ts) into a
 * golden file that test/differential/answers.test.ts compares this build's answers with:
 *
 *   npx tsx scripts/record-answers.ts <a build's dist/server.js> <golden file>
 *   npx tsx scripts/record-answers.ts /tmp/base-redis/dist/server.js test/fixtures/answers/a475eaf.json
 *
 * The build runs in its own process, on this checkout's models/ and test/fixtures/models, with the
 * test's environment (SERVER_ENV); prediction ids are replaced by a placeholder.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DifferentialServers, type Answer, type RecordedAnswers } from '../test/differential/answers.js';
import { SERVER_ENV, differentialRequests } from '../test/differential/requests.js';

const [serverJs, output] = process.argv.slice(2);
if (!serverJs || !output) {
  console.error('usage: npx tsx scripts/record-answers.ts <dist/server.js of a build> <golden file.json>');
  process.exit(2);
}
const entry = resolve(serverJs);
const target = resolve(output);
// The servers serve MODEL_DIR relative to the repository root, as the test's do
process.chdir(fileURLToPath(new URL('..', import.meta.url)));

const servers = await DifferentialServers.start([entry]);
const answers: Record<string, Answer> = {};
try {
  for (const request of differentialRequests()) answers[request.name] = await servers.send(request);
} finally {
  await servers.stop();
}
const commit = execFileSync('git', ['-C', dirname(entry), 'log', '-1', '--format=%h'], { encoding: 'utf8' }).trim();
const recorded: RecordedAnswers = { recordedWith: commit, env: SERVER_ENV, answers };
writeFileSync(target, `${JSON.stringify(recorded, null, 2)}\n`);
console.log(`${Object.keys(answers).length} answers written to ${target}`);
