import { holdoutRow, MODELS } from './bundled-model.js';
import { load, table } from './lib.js';
import { ChildServer } from './servers.js';
const body = JSON.stringify({ model: 'iris', instances: [holdoutRow('iris')] });
const off = await ChildServer.start('dist/server.js', { MODEL_DIR: MODELS, CACHE_ENABLED: 'false' }, '/ready');
const on = await ChildServer.start('dist/server.js', { MODEL_DIR: MODELS }, '/ready');
const answer = await (await fetch(`${on.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
const bare = await ChildServer.start('bench/bare-server.ts', { BARE_RESPONSE: answer });
const rows = [];
for (let r = 0; r < 2; r++) for (const c of [1, 32]) {
  rows.push(await load('bare', `${bare.url}/predict`, body, c, 3, { pid: bare.pid }));
  rows.push(await load('miss (cache off)', `${off.url}/predict`, body, c, 3, { pid: off.pid }));
  rows.push(await load('hit', `${on.url}/predict`, body, c, 3, { pid: on.pid }));
}
console.log(table(rows));
await Promise.all([off.stop(), on.stop(), bare.stop()]);
