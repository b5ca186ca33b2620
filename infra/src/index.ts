// The public API of @lambda/infra.
export { createAllInOne } from './all-in-one.js';
export type { AllInOne } from './all-in-one.js';
