"""The emergency categories medqa recognises: what each is called, what to do, what to show after it.

Every category has a conservative message that starts from the emergency number (911 in the US, or the
local number) and adds the one action the red-flag lists agree on. The wording follows:

* AHA/ASA **BE FAST** (Balance, Eyes, Face, Arm, Speech, Time) for stroke and the AHA heart-attack
  warning signs (chest discomfort, pain spreading to arm/back/neck/jaw, shortness of breath, cold
  sweat, nausea; women more often back or jaw pain and nausea);
* the **988 Suicide & Crisis Lifeline** (call or text 988) for suicide and self-harm;
* **Poison Control** (1-800-222-1222, poison.org) for poisoning and overdose;
* ACEP's "warning signs of a medical emergency", NHS "when to call 999" (sepsis, meningitis rash
  that does not fade under a glass, severe bleeding, seizure over 5 minutes, sudden confusion) and
  the CDC **Hear Her** urgent maternal warning signs (headache with vision changes, swelling of face or
  hands, heavy bleeding, baby moving less, trouble breathing, up to a year after birth);
* the American Academy of Pediatrics: a fever of 100.4 °F (38 °C) or more in a baby under 3 months
  needs a doctor right away.

``info_query`` is what the engine searches when a question describes this emergency but matches no
answer well enough: the NIH information about the condition is then shown after the notice (see
:meth:`medqa.retrieval.engine.Engine.search`).
"""

from __future__ import annotations

from dataclasses import dataclass

CALL_911 = "Call 911 now (or your local emergency number if you are outside the US)."
POISON_CONTROL = "Poison Control: 1-800-222-1222 (US, free, 24/7, or poison.org)."
LIFELINE_988 = "call or text 988 to reach the 988 Suicide & Crisis Lifeline (US, free, 24/7)"


@dataclass(frozen=True)
class Category:
    """One kind of emergency.

    Attributes:
        kind: Identifier (``EmergencyNotice.kind``).
        label: Name shown to people ("Stroke").
        message: What to do, emergency number first, fit to show as is.
        info_query: A question whose NIH answer is useful to show after the notice.
    """

    kind: str
    label: str
    message: str
    info_query: str


def _c(kind: str, label: str, message: str, info_query: str) -> Category:
    return Category(kind=kind, label=label, message=message, info_query=info_query)


#: Every category, in the order the rules check them (suicide and poisoning first: their numbers matter
#: most when a question mixes several emergencies).
CATEGORIES: tuple[Category, ...] = (
    _c(
        "suicide",
        "Suicide or self-harm",
        "If you are thinking about suicide or hurting yourself, or are worried about someone who is, "
        f"{LIFELINE_988}, or chat at 988lifeline.org. If someone is in immediate danger, call 911 (or "
        "your local emergency number). You are not alone, and help is available right now.",
        "What are the warning signs of suicide?",
    ),
    _c(
        "overdose_poisoning",
        "Overdose or poisoning",
        f"{CALL_911} Call 911 first if the person is hard to wake, has trouble breathing or is having a "
        "seizure. Otherwise call Poison Control at 1-800-222-1222 (US, free, 24/7) right away, even if "
        "they seem fine. Do not try to make them vomit.",
        "What to do in case of poisoning?",
    ),
    _c(
        "anaphylaxis",
        "Severe allergic reaction (anaphylaxis)",
        "This may be a severe allergic reaction (anaphylaxis). Use an epinephrine auto-injector (such as "
        f"an EpiPen) right away if one has been prescribed. {CALL_911}",
        "What are the symptoms of anaphylaxis?",
    ),
    _c(
        "cardiac",
        "Heart attack",
        f"These can be signs of a heart attack. {CALL_911} Do not drive yourself to the hospital; stop "
        "what you are doing, rest, and follow the dispatcher's instructions.",
        "What are the warning signs of a heart attack?",
    ),
    _c(
        "stroke",
        "Stroke",
        "These can be signs of a stroke (BE FAST: Balance, Eyes, Face drooping, Arm weakness, Speech "
        f"difficulty, Time to call). {CALL_911} Note the time the symptoms started: every minute counts.",
        "What are the signs of a stroke?",
    ),
    _c(
        "seizure",
        "Seizure",
        "Call 911 (or your local emergency number) if a seizure lasts more than 5 minutes, another one "
        "follows, or the person is injured, pregnant, has trouble breathing or does not wake up. Keep "
        "them safe, turn them on their side and put nothing in their mouth.",
        "What to do during a seizure?",
    ),
    _c(
        "unconscious",
        "Unresponsive or collapsed",
        f"{CALL_911} If the person is not breathing normally, start CPR if you can; the dispatcher can "
        "guide you until help arrives.",
        "What causes loss of consciousness?",
    ),
    _c(
        "confusion",
        "Sudden confusion",
        "Sudden confusion, drowsiness or a sudden change in behaviour can be a sign of a stroke, an "
        f"infection, low blood sugar or another emergency. {CALL_911} Note when it started.",
        "What is delirium?",
    ),
    _c(
        "breathing",
        "Severe trouble breathing",
        f"Serious trouble breathing is an emergency. {CALL_911} Keep the person sitting up; if they "
        "have a reliever inhaler, help them use it while you wait.",
        "What causes shortness of breath?",
    ),
    _c(
        "choking",
        "Choking",
        f"If the person cannot speak, cough or breathe, {CALL_911[0].lower()}{CALL_911[1:]} Give back "
        "blows and abdominal thrusts (chest thrusts for a baby under 1); the dispatcher can talk you "
        "through it.",
        "What to do when someone is choking?",
    ),
    _c(
        "drowning",
        "Drowning or near-drowning",
        f"{CALL_911} After being pulled from water, coughing, fast breathing, drowsiness, vomiting or "
        "confusion need emergency care even if the person seemed fine at first. If they are not "
        "breathing, start CPR.",
        "What is drowning?",
    ),
    _c(
        "bleeding",
        "Severe bleeding",
        f"{CALL_911} Press firmly on the wound with a clean cloth or bandage and keep pressing until "
        "help arrives.",
        "How to stop severe bleeding?",
    ),
    _c(
        "burn",
        "Serious burn or electric shock",
        f"Large, deep, chemical or electrical burns are emergencies. {CALL_911} Cool the burn under "
        "cool running water (not ice) and do not pop blisters.",
        "What are the treatments for burns?",
    ),
    _c(
        "sepsis",
        "Possible sepsis",
        "An infection with confusion, fast breathing, a racing heart, mottled or very pale skin, or "
        f"little or no urine can be sepsis. {CALL_911} Say that you are worried about sepsis.",
        "What are the symptoms of sepsis?",
    ),
    _c(
        "meningitis",
        "Possible meningitis",
        "A fever with a stiff neck, a rash that does not fade when you press a glass on it, dislike of "
        f"bright light or unusual drowsiness can be meningitis. {CALL_911} Do not wait for a rash.",
        "What are the symptoms of meningitis?",
    ),
    _c(
        "head_injury",
        "Serious head injury",
        "After a blow to the head, vomiting, drowsiness, confusion, a worsening headache, unequal "
        f"pupils, fluid from the nose or ears, or a fit are emergencies. {CALL_911} Keep the person "
        "still.",
        "What are the symptoms of a traumatic brain injury?",
    ),
    _c(
        "diabetic",
        "Diabetic emergency",
        "Vomiting with fruity breath and deep breathing (ketoacidosis), or confusion, sweating and "
        f"drowsiness from very low blood sugar, are emergencies. {CALL_911} If the person is awake and "
        "can swallow, give sugar (juice, glucose tablets); give nothing by mouth if they cannot.",
        "What is diabetic ketoacidosis?",
    ),
    _c(
        "pregnancy",
        "Pregnancy warning sign",
        "During pregnancy or in the year after birth, a severe headache, vision changes, swelling of the "
        "face or hands, heavy bleeding, fluid leaking, the baby moving less, chest pain or trouble "
        f"breathing need care right now (CDC Hear Her). {CALL_911} Say that you are pregnant or "
        "recently gave birth.",
        "What is preeclampsia?",
    ),
    _c(
        "infant_fever",
        "Fever in a baby under 3 months",
        "A temperature of 100.4 °F (38 °C) or higher in a baby younger than 3 months needs to be seen "
        "by a doctor right away, day or night: call your doctor now or go to the emergency room; call "
        "911 (or your local emergency number) if the baby is hard to wake, floppy or has trouble "
        "breathing. Do not give fever medicine before talking to a doctor.",
        "What are the symptoms of fever in infants?",
    ),
    _c(
        "testicular_torsion",
        "Possible testicular torsion",
        "Sudden, severe pain in a testicle is an emergency (testicular torsion): the testicle can be "
        f"saved only within hours. {CALL_911} Or go to the emergency room now; do not wait to see if it "
        "passes.",
        "What is testicular torsion?",
    ),
    _c(
        "heat_stroke",
        "Heat stroke",
        f"Confusion with a very hot body after heat or exercise can be heat stroke. {CALL_911} Move the "
        "person somewhere cool and cool them with water and fanning while you wait.",
        "What are the symptoms of heat stroke?",
    ),
    _c(
        "carbon_monoxide",
        "Possible carbon monoxide poisoning",
        "Headaches, dizziness or nausea in several people in one place, easing outdoors, can be carbon "
        "monoxide poisoning. Get everyone (and pets) outside into fresh air now and call 911 (or your "
        "local emergency number) from outside. Do not go back in.",
        "What is carbon monoxide poisoning?",
    ),
    _c(
        "major_trauma",
        "Serious injury",
        f"{CALL_911} Do not move someone who may have a neck or back injury unless they are in danger. "
        "Press on any bleeding and keep them warm.",
        "What are the symptoms of a spinal cord injury?",
    ),
    _c(
        "thunderclap_headache",
        "Sudden severe headache",
        "A headache that reaches its worst within a minute ('thunderclap', 'worst headache of my life') "
        f"can be bleeding in the brain. {CALL_911}",
        "What is a subarachnoid hemorrhage?",
    ),
    _c(
        "aortic_dissection",
        "Possible aortic dissection",
        "Sudden, severe tearing or ripping pain in the chest or back can be a tear in the aorta. "
        f"{CALL_911} Rest and do not drive yourself.",
        "What is an aortic dissection?",
    ),
    _c(
        "gi_bleeding",
        "Bleeding in the stomach or bowel",
        "Vomiting blood or something like coffee grounds, black tarry stools or a lot of blood from the "
        f"bottom, especially with dizziness, is an emergency. {CALL_911}",
        "What are the symptoms of gastrointestinal bleeding?",
    ),
    _c(
        "pulmonary_embolism",
        "Possible blood clot in the lungs",
        "Sudden shortness of breath or sharp chest pain when breathing in, especially after surgery, a "
        f"long journey, pregnancy or with a swollen calf, can be a pulmonary embolism. {CALL_911}",
        "What is a pulmonary embolism?",
    ),
    _c(
        "ectopic_pregnancy",
        "Possible ectopic pregnancy",
        "Pain on one side of the lower belly, shoulder-tip pain, dizziness or fainting in early or "
        f"possible pregnancy can be an ectopic pregnancy. {CALL_911}",
        "What is an ectopic pregnancy?",
    ),
    _c(
        "acute_abdomen",
        "Severe belly pain",
        "Severe belly pain that is getting worse, moves to the lower right, makes the belly hard, or "
        f"comes with vomiting or fever needs emergency care (for example appendicitis). {CALL_911} Or "
        "go to the emergency room now; do not eat or drink until you are seen.",
        "What are the symptoms of appendicitis?",
    ),
    _c(
        "child_dehydration",
        "Dehydration in a child",
        "A child who has no wet diaper or pee for 8 hours or more, cries without tears, has a sunken "
        f"soft spot or eyes, or is floppy or very sleepy needs care now. {CALL_911} Or go to the "
        "emergency room now.",
        "What are the symptoms of dehydration in children?",
    ),
    _c(
        "hypothermia",
        "Hypothermia",
        "Shivering that stops, confusion, slurred speech or drowsiness after cold exposure are signs of "
        f"hypothermia. {CALL_911} Move the person somewhere warm, remove wet clothes and warm them "
        "gradually with blankets.",
        "What is hypothermia?",
    ),
    _c(
        "eye",
        "Eye emergency",
        "For a chemical in the eye, rinse it with clean water for at least 15 minutes right away. "
        "Sudden vision loss, a curtain over your vision, a severe red painful eye or an eye injury need "
        f"emergency care. {CALL_911} Or go to the emergency room now.",
        "What are the symptoms of retinal detachment?",
    ),
)

BY_KIND: dict[str, Category] = {category.kind: category for category in CATEGORIES}

#: Every ``EmergencyNotice.kind``, in the rules' order.
EMERGENCY_KINDS: tuple[str, ...] = tuple(BY_KIND)
