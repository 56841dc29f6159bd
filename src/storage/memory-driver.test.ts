import { storageDriverSuite } from './driver.suite.js';
import { MemoryDriver } from './memory-driver.js';

storageDriverSuite('memory', async () => ({ driver: new MemoryDriver(), cleanup: async () => {} }));
