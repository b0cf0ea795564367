import { createOcrEngine } from './create-ocr-engine';

// These run the real tesseract, poppler or sharp: seconds per test on a busy two-core machine, not Jest's 5 s.
jest.setTimeout(30_000);

describe('createOcrEngine', () => {
  it('picks the tesseract binary when it has every language', async () => {
    const engine = await createOcrEngine({ engine: 'auto', languages: ['eng'], concurrency: 2 });
    expect(engine.kind).toBe('tesseract-cli');
    expect(engine.concurrency).toBe(2);
    expect(engine.describe()).toBe('tesseract binary (tesseract), languages eng, 2 page(s) at once');
    await engine.close();
  });

  it('falls back to tesseract.js when the binary is missing, and says why', async () => {
    const engine = await createOcrEngine({
      engine: 'auto',
      languages: ['eng'],
      concurrency: 1,
      tesseractCommand: 'quarry-no-such-tesseract',
    });
    expect(engine.kind).toBe('tesseract-js');
    expect(engine.describe()).toContain('fallback: quarry-no-such-tesseract is not installed');
    await engine.close();
  });

  it('uses tesseract.js when asked to', async () => {
    const engine = await createOcrEngine({ engine: 'js', languages: ['eng'], concurrency: 1 });
    expect(engine.kind).toBe('tesseract-js');
    expect(engine.describe()).toBe('tesseract.js (as configured), languages eng, 1 page(s) at once');
    await engine.close();
  });

  it("fails for 'cli' when the binary lacks a language, naming the Debian package", async () => {
    await expect(createOcrEngine({ engine: 'cli', languages: ['eng', 'chi_sim'] })).rejects.toThrow(
      "OCR engine 'cli' is not usable: tesseract has no traineddata for chi_sim (Debian: apt-get install tesseract-ocr-chi-sim)",
    );
  });

  it('fails when neither engine has the languages, naming the npm packages', async () => {
    await expect(createOcrEngine({ engine: 'auto', languages: ['eng', 'fra'] })).rejects.toThrow(
      'install @tesseract.js-data/fra',
    );
    await expect(createOcrEngine({ engine: 'js', languages: ['deu'] })).rejects.toThrow(
      'OCR engine tesseract.js has no model for deu: install @tesseract.js-data/deu',
    );
  });
});
