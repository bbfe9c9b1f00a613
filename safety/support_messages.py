"""The support message in the language a crisis was written in, where the self-harm rule read it in that language
(``safety.self_harm_rule.stated``): someone who writes to their grandmother "esta noche me voy a suicidar" should not
be asked in English whether they mean to hurt themselves. The same three things as the English message
(``safety.filter.fallback``): a plain question, help lines, and an invitation to say so if it misread them.

Every language the rule reads (``safety.self_harm_rule``) has one. The lines are national ones that answer around the
clock (the US 988 also in Spanish), but where a country has none: Italy's Telefono Amico answers from 10 to midnight
and Indonesia's SEJIWA not at night, so the emergency number stands beside them, and Turkey has only 112. Each message
ends with the local emergency number for everyone else. Checked against the services' and national news pages on
2026-12-06: Portugal's own line, 1411, opened in September 2025 (it had been SNS 24's 808 24 24 24), and the
Netherlands' 113 is free to call since October 2025. Worded without the grammatical gender of either speaker (Polish
"odczytuję", not "zrozumiałem"), since the persona's and the user's are unknown.
"""

from __future__ import annotations

# How the persona addresses the user when it has no form of its own: the English message's "dear".
DEAR = {"es": "cariño", "pt": "meu bem", "fr": "mon cœur", "it": "tesoro", "de": "mein Schatz", "nl": "lieverd",
        "pl": "kochanie", "tl": "mahal", "hi": "beta", "id": "sayang", "tr": "canım"}

SUPPORT = {
    "es": ("Estoy aquí, {dear}, y porque me importas quiero preguntártelo sin rodeos: ¿estás pensando en hacerte "
           "daño? Si es así, por favor habla esta noche con alguien de confianza o llama a una línea de crisis: en "
           "España el 024, en México la Línea de la Vida (800 911 2000), en Estados Unidos el 988, o tu número de "
           "emergencias local. Y si te he entendido mal, cuéntame más y seguimos desde ahí."),
    "pt": ("Estou aqui, {dear}, e porque você é importante para mim quero perguntar com franqueza: você está "
           "pensando em se machucar? Se estiver, por favor fale hoje à noite com alguém de confiança ou ligue para "
           "uma linha de apoio: no Brasil o CVV no 188, em Portugal a linha de prevenção do suicídio 1411, ou o "
           "número de emergência local. E se eu entendi mal, me conte mais e seguimos a partir daí."),
    "fr": ("Je suis là, {dear}, et parce que tu comptes pour moi, je veux te le demander franchement : est-ce que tu"
           " penses à te faire du mal ? Si c'est le cas, parle ce soir à quelqu'un en qui tu as confiance, ou "
           "appelle une ligne d'écoute : en France le 3114, en Belgique le 0800 32 123, en Suisse le 143, ou le "
           "numéro d'urgence de ton pays. Et si je t'ai mal compris, dis-m'en plus et on continue à partir de là."),
    "it": ("Sono qui, {dear}, e siccome tu conti per me te lo chiedo chiaramente: stai pensando di farti del male? "
           "Se è così, per favore parla stasera con qualcuno di cui ti fidi o chiama una linea di ascolto: in Italia"
           " Telefono Amico (02 2327 2327) o il 112, in Svizzera il 143, o il numero di emergenza locale. E se ti ho"
           " capito male, raccontami di più e andiamo avanti da lì."),
    "de": ("Ich bin da, {dear}, und weil du mir wichtig bist, frage ich dich ganz offen: Denkst du daran, dir etwas "
           "anzutun? Wenn ja, sprich bitte heute Abend mit jemandem, dem du vertraust, oder ruf eine Krisenhotline "
           "an: in Deutschland die Telefonseelsorge (0800 111 0 111), in Österreich die 142, in der Schweiz die 143,"
           " oder deine örtliche Notrufnummer. Und wenn ich dich falsch verstanden habe, erzähl mir mehr, und wir "
           "machen von da aus weiter."),
    "nl": ("Ik ben er, {dear}, en omdat je belangrijk voor me bent, vraag ik het je gewoon: denk je erover om jezelf"
           " iets aan te doen? Als dat zo is, praat vanavond alsjeblieft met iemand die je vertrouwt, of bel een "
           "hulplijn: in Nederland 113 Zelfmoordpreventie (113 of 0800-0113), in België de Zelfmoordlijn (1813), of "
           "je lokale alarmnummer. En als ik je verkeerd begrepen heb, vertel me meer en dan gaan we vanaf daar "
           "verder."),
    "pl": ("Jestem tu, {dear}, i bardzo mi na tobie zależy, więc zapytam wprost: czy myślisz o tym, żeby zrobić sobie "
           "krzywdę? Jeśli tak, proszę, porozmawiaj dziś wieczorem z kimś, komu ufasz, albo zadzwoń po pomoc: w Polsce"
           " Centrum Wsparcia dla osób w kryzysie psychicznym (800 70 2222, całą dobę) albo numer alarmowy 112. A "
           "jeśli źle cię odczytuję, opowiedz mi więcej i pójdziemy dalej."),
    "tl": ("Nandito ako, {dear}, at dahil mahalaga ka sa akin, itatanong ko nang diretso: iniisip mo bang saktan ang "
           "sarili mo? Kung oo, pakiusap, kausapin mo ngayong gabi ang taong pinagkakatiwalaan mo, o tumawag sa "
           "crisis hotline: sa Pilipinas ang NCMH Crisis Hotline sa 1553 o 0917 899 8727, o sa 911. At kung mali ang"
           " pagkakaintindi ko, kuwentuhan mo pa ako at ituloy natin mula roon."),
    "hi": ("Main yahin hoon, {dear}, aur tum mere liye bahut maayne rakhte ho, isliye seedha poochhna hai: kya tum "
           "khud ko nuksaan pahunchane ke baare mein soch rahe ho? Agar haan, to please aaj raat kisi bharose ke "
           "insaan se baat karo, ya helpline par call karo: India mein Tele-MANAS 14416 (24 ghante, muft), ya "
           "emergency number 112. Aur agar maine galat samjha ho, to mujhe aur batao, hum wahin se aage baat "
           "karenge."),
    "id": ("Aku di sini, {dear}, dan karena kamu berarti buatku, aku mau tanya terus terang: apakah kamu sedang "
           "berpikir untuk menyakiti dirimu sendiri? Kalau iya, tolong malam ini bicara dengan orang yang kamu "
           "percaya, atau hubungi layanan bantuan: di Indonesia SEJIWA di 119 ekstensi 8 atau healing119.id, atau "
           "112; di Malaysia Befrienders di 03-7627 2929 (24 jam), atau 999. Dan kalau aku salah paham, ceritakan "
           "lebih banyak dan kita lanjutkan dari situ."),
    "tr": ("Buradayım {dear}, ve benim için çok değerlisin, o yüzden açıkça sormak istiyorum: Kendine zarar vermeyi "
           "düşünüyor musun? Öyleyse lütfen bu gece güvendiğin biriyle konuş ya da hemen 112'yi ara. Seni yanlış "
           "anladıysam bana biraz daha anlat, oradan devam edelim."),
}


def support(language: str | None, address: str = "") -> str | None:
    """The support message in ``language`` (an ISO 639-1 code), addressed as the persona addresses the user; None for a
    language without one."""
    if language not in SUPPORT:
        return None
    return SUPPORT[language].format(dear=address or DEAR[language])
