import { imageRepository, jsonAgainstBinary } from './json-images.js';
import { ChildServer } from './servers.js';
const repo = imageRepository();
for (const offload of (process.env.OFFLOADS ?? '0,65536').split(',')) {
  const service = await ChildServer.start('dist/server.js', { MODEL_DIR: repo, CACHE_ENABLED: 'false', JSON_OFFLOAD_BYTES: offload }, '/ready');
  const { json, binary } = await jsonAgainstBinary(service, 16, 5);
  await service.stop();
  console.log(`JSON_OFFLOAD_BYTES=${offload}`);
  for (const r of [json, binary]) console.log(' ', r.load.name, `${r.load.rowsPerSec} rows/s`, `errors ${r.load.errors + r.load.non2xx}`, 'cores main/all', JSON.stringify(r.load.serverCores), '/health', JSON.stringify(r.health));
  console.log('  JSON / binary rows/s:', +(json.load.rowsPerSec / binary.load.rowsPerSec).toFixed(3));
}
