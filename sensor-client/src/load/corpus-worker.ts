// Worker thread: signs one slice of the corpus plan (corpus.ts) and posts the batches back.
import { parentPort, workerData } from 'node:worker_threads';
import { type CorpusOptions, signPlanned } from './corpus.ts';

const { o, plan } = workerData as { o: CorpusOptions; plan: Parameters<typeof signPlanned>[1] };
parentPort!.postMessage(signPlanned(o, plan, 0, plan.length));
