import { TEXT_SEARCH_CONFIGS } from '@quarry/contracts';
import { configFor, detectLanguage } from './language';

describe('detectLanguage', () => {
  it('picks the stemmer of the text’s language', () => {
    expect(
      detectLanguage(
        'The committee reviewed the quarterly invoices and found that most suppliers were paid on time, ' +
          'although several shipments arrived late because of the storms in the harbour.',
      ),
    ).toEqual({ language: 'eng', config: 'english' });
    expect(
      detectLanguage(
        'Der Ausschuss hat die Rechnungen des Quartals geprüft und festgestellt, dass die meisten Lieferanten ' +
          'pünktlich bezahlt wurden, obwohl einige Lieferungen wegen der Stürme im Hafen verspätet ankamen.',
      ).config,
    ).toBe('german');
  });

  it('falls back to simple when there is too little text to tell', () => {
    expect(detectLanguage('INV-20931 total 42')).toEqual({ language: null, config: 'simple' });
    expect(detectLanguage('   ')).toEqual({ language: null, config: 'simple' });
  });

  it('picks only configurations a keyword query is parsed with', () => {
    const samples = [
      'eng',
      'deu',
      'fra',
      'spa',
      'ita',
      'por',
      'nld',
      'rus',
      'swe',
      'nob',
      'dan',
      'fin',
      'hun',
      'tur',
      'ron',
    ];
    for (const code of samples) expect(TEXT_SEARCH_CONFIGS).toContain(configFor(code));
  });
});
