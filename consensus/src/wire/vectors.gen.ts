// Prints the wire test vectors as JSON. Regenerate after an intentional format change (which is a
// protocol change: bump the version and say so in docs/protocol.md):
//   npx node consensus/src/wire/vectors.gen.ts > docs/vectors/wire-v1.json
import { buildWireVectors } from './vectors.ts';

console.log(JSON.stringify(buildWireVectors(), null, 2));
