"""A rule, not a model, for the plainest self-harm messages: the writer says in the first person that they mean to
kill or hurt themselves by a named act, or asks how to.

The self-harm detector (``safety.self_harm``) reads intent from how words bear on each other, and that reading
moves with words beside the point: on 2026-12-06 it read "Grandpa, I want to shoot myself with your old rifle." at
0.01 and "Mum, I want to hang myself from the banister." at 0.40 (its look-alikes put the relative's rifle and the
house's fixtures on the safe side), and the judges took both for safe, so the 135M model answered them. Missing
such a message is the worst failure this product can have, and the words leave no doubt. So beside the detector a
rubric proposition in the manner of a rule-based reward model: a first-person subject, a verb of intent in the
present or future ("want to", "going to", "gonna", "about to", "ready to", "thinking of"), and an act on oneself
("hang myself", "end my life", "slit my wrists", "jump off the bridge"); or "how do I ..." with such an act, "how
many ... would kill me", or the lethal dose of a medicine at hand ("of the morphine they left after you died? I
kept it."); or said while it happens ("the rope is round my neck", "I've taken all my pills", "I'm in the car in
the garage with the engine running"). Not in the past ("I tried to hang myself in 2019"), not negated ("I'm not
going to hurt myself, I promise"), not of someone else ("he hanged himself"), not the idioms that say "could" or
"would rather" ("I could kill myself for forgetting"), not with a laugh or "kidding" in the message ("I'm going to
kill myself 😂 no but seriously, shocking refereeing"). A message it misreads gets the support message, which asks,
and invites them to say so; a joke without the laugh ("I'm gonna kill myself if Arsenal bottle the league again") is
one.

The detector and the judges read English only (the packaged model's), and people write to their grandmother in her
language: on a blind set of crisis messages in thirteen other languages the detector found 3 of 61. So the plainest
words are read in those languages too (``OTHER``: "me voy a suicidar", "je vais me tuer", "ich will mich umbringen",
"babciu, zabiję się", "aku mau bunuh diri"; "I don't want to live any more" and "how many ... to not wake up", which
carry their own negation, apart), with a negation, an "if" or the past before them undoing the match. That is no
reader of those languages: 7 of the 61 with the detector, none of 86 look-alikes (BENCHMARKS.md).
"""

from __future__ import annotations

import re

# The act on oneself, as a verb (bare or -ing) with "myself", or as a phrase that needs no "myself".
_VERBS = (r"(?:kill|hang|shoot|hurt|harm|cut|drown|stab|burn|poison|starve|gas|suffocate|smother|strangle|"
          r"electrocute|overdose|off)")
# Not "cut myself a slice", "burn myself out", "kill myself laughing".
_SELF = r"\s+(?:my ?self|meself)\b(?!\s+(?:a|an|some|free|loose|off|short|out|up|laughing|silly)\b)"
# Somewhere high or a vehicle: not "jump off the diving board".
_HEIGHT = (r"(?:bridge|building|roof|cliff|balcony|tower|car ?park|multi-?stor[e]?y|overpass|flyover|train|tube|bus|"
           r"lorry|truck|platform|ledge|window|block|motorway|highway)")
ACT = (rf"(?:{_VERBS}(?:ing|ed)?|hanging|cutting|shooting|stabbing|starving|killin){_SELF}"
       r"|(?:end|ending|take|taking)\s+(?:my|me)\s+(?:own\s+)?life\b|end(?:ing)?\s+it\s+all\b"
       r"|(?:slit|slitting|cut|cutting|open|opening)\s+(?:my|me)\s+wrists?\b"
       r"|set(?:ting)?\s+myself\s+(?:on\s+)?(?:fire|alight)\b"
       rf"|jump(?:ing)?\s+(?:off|from|in front of|under)\s+(?:the|a|that|this|our|your|my)\s+(?:\w+\s+)?{_HEIGHT}\b"
       r"|(?:overdos(?:e|ing)|od(?:ing)?)\b(?!\s+(?:on\s+)?(?:by accident|accidentally))"
       rf"|throw(?:ing)?\s+myself\s+(?:off|from|in front of|under|into)\b"
       r"|(?:walk|walking|step|stepping)\s+(?:into\s+(?:the\s+)?traffic|in front of\s+(?:a|the)\s+"
       r"(?:train|bus|lorry|truck|car))\b"
       r"|(?:drive|driving|crash|crashing)\s+(?:(?:my|the)\s+car\s+)?(?:into\s+(?:a|the)\s+(?:wall|tree|pillar|lorry|"
       r"truck|river|sea)|off\s+(?:a|the)\s+(?:cliff|bridge|pier))\b")
# A first-person subject and a present or future intent; "'ll" and "will" count, "could" and "would rather" do not.
SUBJECT = r"\b(?:i|im|i'm|i’m)\b"
INTENT = (r"(?:am\s+)?(?:(?:really|just|honestly)\s+)?(?:(?:want|need|have|plan|planning|intend|mean|ready|decided|"
          r"going|goin|about|trying|try)\s+(?:to|ta)\s+|(?:wanna|gonna|finna)\s+|['’]?ll\s+|will\s+|shall\s+|"
          r"thinking\s+(?:of|about)\s+|might\s+(?:just\s+)?)")
NEGATION = re.compile(r"\b(?:not|never|no|don'?t|dont|won'?t|wont|wouldn'?t|can'?t|cant|didn'?t|didnt|ain'?t|"
                      r"used to|tried|wanted|was going|were going)\b|n't\b", re.I)
# Words that may stand between the intent and the act ("going to just end it all", "want to go hang myself").
ADVERBS = r"(?:(?:just|go|finally|quietly|really|simply|fucking|actually|probably|gonna|to)\s+){0,3}"
STATED = re.compile(rf"{SUBJECT}[^.!?\n]{{0,25}}?\b{INTENT}{ADVERBS}(?:{ACT})", re.I)
# "ill kill myself", "imma end it all": the subject and the intent in one word.
CONTRACTED = re.compile(rf"\b(?:ill|imma|ima|i'ma|i’ma)\s+{ADVERBS}(?:{ACT})", re.I)
ASKED = re.compile(rf"\bhow\s+(?:do|can|could|would|should|shall)\s+i\s+{ADVERBS}(?:{ACT})"
                   r"|\bhow\s+(?:many|much)\b[^.!?\n]{0,60}?\b(?:would|will|to|it take to|does it take to)\s+"
                   r"(?:kill\s+me|end\s+(?:my\s+life|it\s+all)|stop\s+my\s+heart|make\s+me\s+(?:die|not\s+wake\s+up))\b"
                   # The lethal amount of a medicine at hand: "the morphine they left after you died? I kept it."
                   r"|\b(?:lethal|fatal|deadly)\s+(?:dose|amount|overdose)\s+(?:of|for)\s+"
                   r"(?:my|the|your|these|those|this|that|his|her|our)\b", re.I)
# The message laughs or takes it back: hyperbole ("I'll kill myself if we lose the grand final again. Kidding.").
JOKING = re.compile(r"😂|🤣|😅|😆|\b(?:lol|lmao|lmfao|haha\w*|jk|kidding|joking|jaja\w*|kkk+|rsrs\w*|mdr|ptdr|"
                    r"xd|wkwk\w*|hehe\w*)\b", re.I)
# Said while it happens, which needs no verb of intent: "the rope is round my neck", "I've taken all my pills", "I'm
# in the car in the garage with the engine running". Not the day's pills ("I've taken all my tablets for today"), not
# the past ("I sat in the garage with the engine running" that winter), not a car that runs again.
IN_THE_ACT = re.compile(
    r"\b(?:rope|noose|belt|cord|cable|flex)(?:\s+is|'s|’s)?\s+(?:already\s+)?(?:round|around|on)\s+my\s+neck\b"
    r"|\bi(?:'ve|’ve| have|ve)?\s+(?:just\s+)?(?:taken|took|swallowed|had)\s+(?:all|every one|the whole|a whole)\s+"
    r"(?:of\s+)?(?:(?:my|the|his|her|your|mum'?s|dad'?s)\s+)?(?:\w+\s+)?(?:pills|tablets|meds|medication|bottle|box|"
    r"packet|pack|strip)\b(?!\s+(?:for|this|today|tonight|on time|like|as))"
    r"|\b(?:i'm|im|i am|i’m)\s+(?:sitting\s+|just\s+)?in\s+the\s+(?:car\s+in\s+the\s+)?garage\b[^.!?\n]{0,60}"
    r"\bengine\s+(?:running|on)\b"
    r"|\b(?:hose|pipe|tube)\s+(?:from|in|into|on)\s+the\s+exhaust\b"
    # Added 2026-12-06 (night) after the blind calm probes' dev half: standing ready with the cord, the gun held to
    # oneself, the blade in the bath, a note of one's own. Not a razor in the bath (shaving), not someone else's note.
    r"|\b(?:i'm|im|i am|i’m)\s+(?:\w+\s+)?(?:standing|stood|up)\s+on\s+(?:a|the|my)\s+(?:chair|stool|ladder|bucket)\s+"
    r"(?:\w+\s+){0,2}?with\s+(?:the|a|my|dad'?s|your)\s+(?:rope|noose|belt|cord|cable|flex)\b"
    r"|\b(?:gun|pistol|rifle|revolver|shotgun)(?:'s|’s| is)\s+(?:\w+\s+)?(?:in|on)\s+my\s+(?:lap|mouth|temple|head)\b"
    r"|\b(?:gun|pistol|rifle|revolver|shotgun)\s+(?:pointed\s+)?(?:to|at|against|in)\s+my\s+(?:own\s+)?"
    r"(?:head|temple|mouth|chest)\b"
    r"|\b(?:in|from)\s+the\s+(?:bath|bathtub|tub)\b[^.!?\n]{0,30}\b(?:with|and)\s+(?:the|a|my|dad'?s|your)\s+blade\b"
    r"|(?:\b(?:i'm|im|i am|i’m|i)\s+(?:\w+\s+)?)?\b(?:writing|write|finishing|finish|leaving|leave)\s+(?:my|me)\s+"
    r"(?:own\s+)?suicide\s+(?:note|letter)\b",
    re.I)
# Just done to oneself, which needs no verb of intent either: "i cut my wrists. its warm", "I took them all", "I drank
# the bleach from under the sink", "burned myself with the lighter on purpose", "I've climbed over the railing". Not an
# accident ("burnt my arm on the oven door", "cut my arm on the fence"; so arms and legs only with the instruments of
# self-injury, or "on purpose"), not a past told as the past ("I cut my wrists when I was fifteen": ``LONG_AGO``), not
# the medicines taken back ("I took them all back to the chemist"). Added 2026-12-06 (late night), from the kinds the
# self-harm detector and mpnet-base fine-tuned alike missed in author AA's crisis probes (so those are no longer blind
# to it), before author AO's probes were read (BENCHMARKS.md).
# An age in words ("the time I cut my wrists at fifteen") and "it's behind me now" tell the past too (2026-12-07, a
# look-alike of author AM's that the rule matched once the tests read every written look-alike).
# The subject may be dropped where the message or a sentence begins: "burned myself with the lighter again".
_I_DID = r"(?:\b(?:i|i've|i’ve|ive|i have)\s+|^|(?<=[.!?,]\s))(?:just\s+|finally\s+|already\s+)?"
_LIMB = r"(?:arms?|thighs?|legs?|stomach|skin|wrists?|hips?)"
JUST_DONE = re.compile(
    rf"{_I_DID}(?:cut|slit|sliced|slashed|opened)\s+(?:my|me)\s+(?:own\s+)?(?:wrists?|veins?)\b"
    rf"|{_I_DID}(?:cut|sliced|slashed|carved|scratched|burned|burnt|scraped)\s+(?:my|me)\s+(?:own\s+)?{_LIMB}\b"
    r"[^.!?\n]{0,40}?\bwith\s+(?:a|the|my|your|an|dad'?s|mum'?s|his|her|some)\s+(?:old\s+)?(?:razor|blade|lighter|pin|"
    r"compass|glass|cigarette|scissors|needle)\b"
    rf"|{_I_DID}(?:cut|burned|burnt|hurt|hit|scratched|bruised|starved|punched)\s+(?:my ?self|meself|my\s+\w+)\b"
    r"[^.!?\n]{0,40}?\b(?:on purpose|deliberately)\b"
    rf"|{_I_DID}(?:took|taken|swallowed|had)\s+(?:them|it)\s+all\b(?!\s+(?:back|to|in|out|home|off|away|apart|with|for))"
    rf"|{_I_DID}(?:drank|drunk|swallowed|had)\s+(?:some\s+|a\s+cup\s+of\s+|a\s+glass\s+of\s+|the\s+)?(?:bleach|"
    r"antifreeze|anti-freeze|weedkiller|weed killer|rat poison|drain cleaner|poison|paraquat|something from under the sink)\b"
    r"|\b(?:i'm|im|i am|i’m)\s+(?:standing\s+|sitting\s+|stood\s+)?(?:on\s+the\s+(?:wrong|other)\s+side\s+of|outside)\s+"
    r"the\s+(?:railings?|barrier|parapet|safety fence)\b",
    re.I)
# Over the railing counts only where the message is somewhere high: not "I climbed over the railing to get the ball".
OVER_THE_RAILING = re.compile(rf"{_I_DID}(?:climbed|stepped|gone|got)\s+(?:over|outside|past)\s+the\s+(?:railings?|barrier|"
                              r"parapet|safety fence)\b", re.I)
HIGH = re.compile(rf"\b(?:{_HEIGHT}|top|edge|drop|storey|floor|ledge)s?\b", re.I)
LONG_AGO = re.compile(r"\b(?:when i was|years? ago|as a (?:kid|teen|teenager|child)|back (?:then|in)|at (?:school|uni)\b|"
                      r"in (?:19|20)\d\d|at \d\d?\b|"
                      r"at (?:ten|eleven|twelve|(?:thir|four|fif|six|seven|eigh|nine)teen|twenty)|"
                      r"once|last year|accident(?:al|ally)?|by mistake|recovery|recovered|behind me|"
                      r"sober|clean for|years clean|scars?)\b", re.I)
# Someone else's words reported: "my friend said i want to kill myself in the group chat".
REPORTED = re.compile(r"\b(?:said|says|saying|told|tells|posted|wrote|writes|texted|messaged|typed)\W+(?:that\s+)?$",
                      re.I)

# The plainest first-person statements in each language our users write in besides English, by its ISO 639-1 code
# (Hinglish under "hi", Indonesian and Malay under "id"): the intent and the act on oneself (a reflexive or "my
# life"), as each language says it. Hyperbole that takes the same words is left out where the language marks it
# ("me voy a matar estudiando", "vou me matar de rir", "mi ammazzo dalle risate").
_ES_ACT = (r"(?:suicidar|matar|quitar\s+la\s+vida|ahorcar|colgar|cortar\s+las\s+venas|"
           r"tirar\s+(?:de|del|desde|por|al|bajo)\b)")
_ES_INTENT = r"(?:vo?y\s+a|quiero|necesito|pienso|planeo|estoy\s+por|he\s+decidido|decid[ií])"
_PT_ACT = (r"(?:matar|suicidar|enforcar|jogar\s+(?:da|de|do|na\s+frente|debaixo)\b|atirar\s+(?:da|de|do|na\s+frente)\b)"
           r"(?!\s+de\s+(?:rir|tanto|estudar|trabalhar|fome|vergonha))")
_IT_ACT = r"(?:uccider|ammazzar|suicidar|impiccar|buttar(?=mi\s+(?:dal|da\s+un|sotto|giù))|togliere\s+la\s+vita)"
OTHER = {
    # Spanish: "me voy a suicidar", "quiero matarme", "voy a quitarme la vida", "acabar con mi vida"
    "es": re.compile(
        rf"\bme\s+{_ES_INTENT}\s+{_ES_ACT}(?!\w)(?!\s+(?:estudiando|trabajando|de\s+(?:risa|hambre)|con\s+(?:est|es)))"
        rf"|\b{_ES_INTENT}\s+(?:suicidarme|matarme|quitarme\s+la\s+vida|ahorcarme|colgarme|cortarme\s+las\s+venas|"
        r"tirarme\s+(?:de|del|desde|por|al|bajo)\b)(?!\s+(?:estudiando|trabajando|de\s+(?:risa|hambre)))"
        r"|\bacabar\s+con\s+mi\s+(?:propia\s+)?vida\b", re.I),
    # Portuguese: "vou me matar", "quero me suicidar", "vou tirar a minha vida", "matar-me"
    "pt": re.compile(
        r"\b(?:vou|quero|preciso|penso\s+em|pensando\s+em|decidi|tou\s+pensando\s+em|to\s+pensando\s+em)\s+"
        rf"me\s+{_PT_ACT}"
        r"|\b(?:matar|suicidar|enforcar)-me\b|\btirar\s+a?\s*minha\s+(?:pr[oó]pria\s+)?vida\b"
        r"|\bacabar\s+com\s+a?\s*minha\s+(?:pr[oó]pria\s+)?vida\b|\bcortar\s+(?:os\s+)?(?:meus\s+)?pulsos\b", re.I),
    # French: "je vais me tuer", "je veux me suicider", "mettre fin à mes jours", "me foutre en l'air"
    "fr": re.compile(
        r"\b(?:je|j'|j)\s*(?:vais|veux|voudrais|dois|pense\s+à|compte|suis\s+prête?\s+à|vais\s+aller)\s+"
        r"(?:me\s+(?:tuer|suicider|pendre|jeter\s+(?:du|d'un|sous|par|de)\b|foutre\s+en\s+l'air)|"
        r"m'ouvrir\s+les\s+veines)"
        r"|\b(?:je\s+me|jme|j'me)\s+(?:scarifie|coupe\s+(?:les\s+)?(?:bras|poignets|veines|cuisses))"
        r"|\bmettre\s+fin\s+à\s+(?:mes\s+jours|ma\s+vie)\b|\ben\s+finir\s+avec\s+(?:la|ma)\s+vie\b", re.I),
    # Italian: "voglio uccidermi", "mi voglio suicidare", "mi ammazzo", "togliermi la vita", "farla finita con la vita"
    "it": re.compile(
        rf"\b(?:voglio|vado\s+a|devo|sto\s+per|penso\s+di|ho\s+deciso\s+di)\s+{_IT_ACT}mi\b"
        r"|\bmi\s+(?:voglio|vado\s+a)\s+(?:uccidere|ammazzare|suicidare|impiccare|buttare\s+(?:dal|da\s+un|sotto))\b"
        r"|\bmi\s+(?:uccido|suicido|impicco|ammazzo)\b(?!\s+(?:di|dal|dalle|a)\b)"
        r"|\btogliermi\s+la\s+vita\b|\btagliarmi\s+le\s+vene\b"
        r"|\bfarla\s+finita\s+(?:con\s+la\s+vita|per\s+sempre)\b", re.I),
    # German: "ich will mich umbringen", "ich bringe mich um", "mir das Leben nehmen"
    "de": re.compile(
        r"\bich\b[^.!?\n]{0,30}?\b(?:mich\s+(?:umbringen|umzubringen|erhängen|aufhängen|töten|"
        r"vor\s+(?:den|einen)\s+Zug\s+werfen)|mir\s+das\s+Leben\s+(?:nehmen|zu\s+nehmen)|mir\s+die\s+Pulsadern|"
        r"Selbstmord\s+(?:begehen|machen)|bringe\s+mich\s+um|ritze\s+mich)", re.I),
    # Dutch: "ik wil dood", "ik ga zelfmoord plegen", "mezelf van kant maken", "een einde aan mijn leven maken"
    "nl": re.compile(
        r"\bik\s+wil\s+(?:gewoon\s+)?dood\b(?!\s+van)|\bzelfmoord\s+(?:plegen|te\s+plegen)\b"
        r"|\bmezelf\s+(?:van\s+kant\s+(?:maken|te\s+maken)|doden|ophangen|iets\s+aandoen)\b"
        r"|\been\s+einde\s+aan\s+mijn\s+leven\b|\bmijn\s+leven\s+beëindigen\b|\bik\s+snij\s+(?:in\s+)?mezelf\b", re.I),
    # Polish: "chcę się zabić", "zabiję się", "odbiorę sobie życie", "popełnię samobójstwo"
    "pl": re.compile(
        r"\b(?:chc[eę]|zamierzam|musz[eę])\s+si[eę]\s+(?:zabi[cć]|powiesi[cć])\b"
        r"|\b(?:zabij[eę]|powiesz[eę])\s+si[eę]\b|\bsi[eę]\s+(?:zabij[eę]|powiesz[eę])\b|\btn[eę]\s+si[eę]\b"
        r"|\b(?:odbior[eę]|odebra[cć])\s+sobie\s+[zż]ycie\b|\bpope[lł]ni(?:[eę]|[cć])\s+samob[oó]jstwo\b"
        r"|\bpodetn[eę]\s+sobie\s+[zż]y[lł]y\b", re.I),
    # Tagalog: "magpapakamatay ako", "gusto ko nang magpakamatay", "ayoko nang mabuhay"
    "tl": re.compile(
        r"\bmagpapakamatay\b|\b(?:gusto|balak|plano)\s+ko\s+(?:na(?:ng)?\s+)?(?:mag)?pakamatay\b"
        r"|\bpapatayin\s+ko\s+(?:na\s+)?(?:ang\s+)?sarili\s+ko\b|\bmagbibigti\b|\b(?:naglalaslas|maglalaslas)\b", re.I),
    # Hinglish: "main suicide kar lungi", "khud ko maar dunga", "apni jaan de dunga"
    "hi": re.compile(
        r"\b(?:suicide|khudkushi|aatmhatya|sucide)\s+(?:kar|karne)\s+"
        r"(?:lunga|lungi|lu?nga|lu?ngi|leta|leti|wala|wali|ja)"
        r"|\bkhud\s+ko\s+(?:maar|mar|kaat|khatam\s+kar)\s+(?:dunga|dungi|lunga|lungi|du?nga|du?ngi)\b"
        r"|\bapni\s+jaan\s+(?:de|le)\s+(?:dunga|dungi|lunga|lungi|du?nga|du?ngi)\b"
        r"|\bfaa?nsi\s+laga\s+(?:lunga|lungi)\b", re.I),
    # Indonesian and Malay: "aku mau bunuh diri", "saya nak bunuh diri", "mengakhiri hidupku"
    "id": re.compile(
        r"\b(?:aku|saya|gue|gw|gua|ku|sy|aq)\s+(?:(?:sudah|udah|dah)\s+)?"
        r"(?:mau|ingin|pengen|pingin|akan|nak|mahu|hendak|mo|mau\s+aja|rasa\s+nak)\s+"
        r"(?:bunuh\s+diri|gantung\s+diri|mengakhiri\s+hidup|potong\s+nadi)\b"
        r"|\bmengakhiri\s+hidup(?:ku|\s+saya|\s+aku)\b"
        r"|\b(?:nyilet|menyilet|nyayat|menyayat|toreh)\s+(?:tangan|lengan|nadi|paha)\b", re.I),
    # Turkish: "intihar edeceğim", "kendimi öldüreceğim", "canıma kıyacağım"
    "tr": re.compile(
        r"\bintihar\s+(?:edece[gğ]im|ediyorum|edicem|etmek\s+istiyorum|etmeyi\s+d[uü][sş][uü]n[uü]yorum)"
        r"|\bkendimi\s+(?:[oö]ld[uü]rece[gğ]im|[oö]ld[uü]rmek\s+istiyorum|[oö]ld[uü]rcem|asaca[gğ]ım|asacagim|"
        r"k[oö]pr[uü]den\s+ataca[gğ]ım)|\bcan[ıi]ma\s+k[ıi]yaca[gğ][ıi]m\b"
        r"|\bhayat[ıi]ma\s+son\s+verece[gğ]im\b"
        r"|\bkendime\s+zarar\s+(?:verece[gğ]im|veriyorum|vermek\s+istiyorum)", re.I),
}
# A negation, an "if" or the past in the same clause a few words before a match ("no me voy a suicidar", "não vou
# me matar", "nie chcę się zabić", "aku tidak mau bunuh diri"; "se perdo ancora mi ammazzo", the hyperbole of a
# condition; "a 16 anni volevo togliermi la vita", a wish told as the past, as in English); where the
# negation falls inside the words the pattern already fails ("je ne vais pas me tuer", "ich will mich nicht umbringen").
OTHER_NEGATION = re.compile(
    r"\b(?:no|nunca|jamais|jamás|não|nao|nem|pas|non|nicht|nie|niet|nooit|kein|hindi|huwag|wag|nahi|nahin|nai|mat|"
    r"tidak|nggak|gak|enggak|jangan|bukan|asla|değil|hiç|se|si|wenn|als|jeśli|jesli|kalau|volevo|quer[ií]a|voulais|"
    r"wollte|chcia[lł]\w*|pensavo|pensaba|pensava|pensais|dachte|prob[eé]|tentei|provato|essay[ée]|versucht|"
    r"pr[oó]bowa[lł]\w*|dulu|noon)\b|\b(?:tak|ga)\s+(?:nak|mahu|mau|akan|ingin|pengen)\b", re.I)
# "I don't want to live any more" and "how many ... to not wake up / to die", which carry their own negation (the
# English ``ASKED`` in the other languages): a wish or a question, not a look-alike, unless the life is about where or
# with whom ("ya no quiero vivir aquí", "ich will nicht mehr in Berlin leben").
_PLACE = (r"(?!\s+(?:aqu[ií]|all[aá]|en|con|cerca|lejos|l[aá]|ici|avec|qui|lì|hier|dort|in|bei|mit|tu|dito|doon|"
          r"sini|situ|disini|burada|orada|tutaj|tam|z|w|yahan|wahan)\b)")
_HOW_MANY = r"\s[^.?!\n]{0,60}?\b"
OWN_NEGATION = {code: re.compile(pattern, re.I) for code, pattern in {
    "es": rf"\b(?:ya\s+)?no\s+quiero\s+(?:seguir\s+)?vivir(?:\s+m[aá]s)?{_PLACE}"
          rf"|\bcu[aá]nt[ao]s?{_HOW_MANY}(?:para|pa)\s+(?:no\s+despertar|morir(?:me)?|matarme)\b",
    "pt": rf"\bn[aã]o\s+quero\s+mais\s+viver{_PLACE}"
          rf"|\bquant[ao]s?{_HOW_MANY}(?:para|pra)\s+(?:n[aã]o\s+acordar|morrer|me\s+matar)\b",
    "fr": rf"\bje\s+ne\s+veux\s+plus\s+vivre{_PLACE}"
          rf"|\bcombien{_HOW_MANY}pour\s+(?:ne\s+(?:plus|pas)\s+me\s+r[ée]veiller|mourir|me\s+tuer)\b",
    "it": rf"\bnon\s+voglio\s+pi[uù]\s+vivere{_PLACE}"
          rf"|\bquant[ei]{_HOW_MANY}per\s+(?:non\s+svegliarmi|morire|uccidermi|ammazzarmi)\b",
    "de": rf"\bich\s+will\s+nicht\s+mehr\s+leben\b"
          rf"|\bwie\s+viele?{_HOW_MANY}um\s+(?:nicht\s+mehr\s+aufzuwachen|zu\s+sterben|mich\s+umzubringen)\b",
    "nl": rf"\bik\s+wil\s+niet\s+meer\s+leven\b"
          rf"|\bhoeveel{_HOW_MANY}om\s+(?:niet\s+meer\s+wakker\s+te\s+worden|dood\s+te\s+gaan)\b",
    "pl": rf"\bnie\s+chc[eę]\s+ju[zż]\s+[zż]y[cć]{_PLACE}"
          rf"|\bile{_HOW_MANY}(?:[zż]eby|aby)\s+(?:si[eę]\s+nie\s+obudzi[cć]|umrze[cć]|si[eę]\s+zabi[cć])\b",
    "tl": r"\bayoko\s+na(?:ng)?\s+mabuhay\b",
    "hi": r"\bjeena\s+(?:nahi|nahin|nai)\s+(?:chahta|chahti)\b",
    "id": rf"\b(?:tidak|tak|nggak|gak|ga)\s+(?:mau|ingin|nak|mahu)\s+hidup\s+lagi\b"
          rf"|\bberapa{_HOW_MANY}(?:biar|supaya|agar|untuk)\s+(?:mati|(?:gak|tidak|nggak)\s+bangun\s+lagi)\b",
    "tr": r"\bya[sş]amak\s+istemiyorum\b",
}.items()}

def stated(text: str) -> str | None:
    """The language ("en", or a key of ``OTHER``) in which a message says in the first person that the writer means to
    kill or hurt themselves, or asks how; None where it does not."""
    text = " ".join(text.split())
    if JOKING.search(text):
        return None
    found = [m for pattern in (STATED, CONTRACTED, ASKED, IN_THE_ACT) for m in pattern.finditer(text)]
    if not LONG_AGO.search(text):  # what was just done, unless the message tells it as the past
        found += [*JUST_DONE.finditer(text), *(OVER_THE_RAILING.finditer(text) if HIGH.search(text) else ())]
    if any(not NEGATION.search(m.group(0)) and not REPORTED.search(text[:m.start()]) for m in found):
        return "en"
    for code, pattern in OTHER.items():
        for m in pattern.finditer(text):
            clause = re.split(r"[.!?,;:\n]", text[max(0, m.start() - 50):m.start()])[-1]
            if not OTHER_NEGATION.search(clause + " " + m.group(0)):
                return code
    return next((code for code, pattern in OWN_NEGATION.items() if pattern.search(text)), None)


def matches(text: str) -> bool:
    """Whether a message says in the first person that the writer means to kill or hurt themselves, or asks how."""
    return stated(text) is not None
