export { startServer, type RunningServer, type ServerResources } from './app.js';
export { registerProcessor } from './filter/processor-registry.js';
export { pipelineEvents, type PipelineLifecycleEvent } from './filter/filter-pipeline.js';
