// The public API of @lambda/infra.
export { createAllInOne } from './all-in-one.js';
export type { AllInOne } from './all-in-one.js';
export { loadCatalog } from './catalog-file.js';
export { SPARK_PYTHON, runSpark, sparkSkipReason } from './spark/pyspark.js';
export { PAGEVIEWS, PageViewGenerator, startDemoStream, webAnalyticsCatalog } from './demo/web-analytics.js';
export type { GeneratorOptions } from './demo/web-analytics.js';
