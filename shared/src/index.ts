export * from './settings.js';
export * from './stats.js';
export * from './signalling.js';
export * from './adapt.js';
