/**
 * A JSON body left unparsed on the main thread, for a decode worker to parse (see
 * protocols/offload/json-offload.ts).
 */
export class LargeBody {
  constructor(readonly bytes: Buffer) {}
}
